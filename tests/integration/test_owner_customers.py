"""Recording a visit, customers (list, add, edit, consent), CSV import with a preview and
nothing imported half-way, and CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlmodel import select

from app.care.customers import set_consent
from app.care.outbound import queue_text
from app.models import ConsentEvent, Customer, Message, Visit
from tests.integration.test_owner_helpers import OVERRIDES, csrf_token, post, sign_in, token_for


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def owner(client, business):
    sign_in(client)
    return client


def customers(session, business_id):
    query = select(Customer).where(Customer.business_id == business_id).order_by(Customer.id)
    rows = session.exec(query.execution_options(populate_existing=True)).all()
    session.commit()
    return rows


# ---- visits -------------------------------------------------------------------------------


def test_a_visit_with_consent_shows_the_planned_thank_you(owner, business, session):
    form = owner.get("/visits/new").get_data(as_text=True)
    for field in ("phone", "name", "consent", "staff"):
        assert f'for="f-{field}"' in form  # every input has its label
    response = post(
        owner,
        "/visits/",
        {"phone": "(212) 555-0170", "name": "Sam", "consent": "yes", "staff": "Ana"},
    )
    assert response.status_code == 302
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Visit saved" in page and "Thank-you after a visit" in page
    assert "Hi Sam, thank you for visiting Bloom Hair Studio and seeing Ana" in page
    assert "Scheduled for" in page
    customer = session.exec(select(Customer).where(Customer.phone == "+12125550170")).one()
    visit = session.exec(select(Visit).where(Visit.customer_id == customer.id)).one()
    events = session.exec(select(ConsentEvent).where(ConsentEvent.customer_id == customer.id))
    assert customer.consent == "granted" and visit.staff == "Ana" and visit.source == "web"
    assert [e.source for e in events] == ["form"]
    session.commit()


def test_a_visit_without_consent_plans_nothing_and_says_why(owner, session):
    response = post(owner, "/visits/", {"phone": "2125550171", "name": "Lee"})
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "No texts are planned for this visit." in page
    assert "consent" in page  # the skipped reason, in words
    assert session.exec(select(Message)).all() == []
    session.commit()


def test_a_bad_phone_is_refused_and_nothing_is_recorded(owner, session):
    response = post(owner, "/visits/", {"phone": "12", "name": "Zed", "consent": "yes"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Check the number" in page and 'aria-invalid="true"' in page and 'value="Zed"' in page
    assert session.exec(select(Visit)).all() == []
    session.commit()


def test_a_first_name_keeps_a_known_full_name(owner, session, business, clock):
    session.add(Customer(business_id=business.id, phone="+12125550172", name="Maria Lopez"))
    session.commit()
    post(owner, "/visits/", {"phone": "+12125550172", "name": "maria"})
    assert customers(session, business.id)[0].name == "Maria Lopez"


def test_visits_of_another_page_link_to_the_conversation(owner, session):
    response = post(owner, "/visits/", {"phone": "+12125550173", "name": "Kim"})
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'href="/conversations/\d+"', page)


# ---- customers ------------------------------------------------------------------------------


def test_add_and_edit_a_customer_with_consent_and_its_source(owner, session, business):
    response = post(
        owner,
        "/customers/new",
        {
            "phone": "212-555-0180",
            "name": "Dana Diaz",
            "email": "dana@example.com",
            "tags": "vip, Color",
            "notes": "Likes tea",
            "consent": "granted",
            "consent_source": "paper form",
        },
    )
    assert response.status_code == 302
    (dana,) = customers(session, business.id)
    assert (dana.phone, dana.name, dana.email, dana.tags, dana.notes) == (
        "+12125550180",
        "Dana Diaz",
        "dana@example.com",
        ["color", "vip"],
        "Likes tea",
    )
    assert dana.consent == "granted" and dana.consent_source == "paper form"
    edit = post(
        owner,
        f"/customers/{dana.id}",
        {
            "phone": "+12125550180",
            "name": "Dana D.",
            "consent": "unknown",
            "consent_source": "asked in person",
        },
    )
    assert edit.status_code == 302
    events = session.exec(
        select(ConsentEvent).where(ConsentEvent.customer_id == dana.id).order_by(ConsentEvent.id)
    ).all()
    assert [(e.consent, e.source) for e in events] == [
        ("granted", "paper form"),
        ("unknown", "asked in person"),
    ]
    session.commit()
    assert customers(session, business.id)[0].name == "Dana D."


def test_customer_fields_are_checked_and_nothing_is_saved_on_error(owner, session, business):
    session.add(Customer(business_id=business.id, phone="+12125550181", name="Eve"))
    session.commit()
    response = post(
        owner,
        "/customers/new",
        {"phone": "+12125550181", "name": "Copy", "email": "not-an-email", "consent": "unknown"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "+12125550181 is already a customer" in page and "Enter an email address" in page
    assert [c.name for c in customers(session, business.id)] == ["Eve"]


def test_an_opt_out_stays_until_the_customer_texts_start(owner, session, business, clock):
    customer = Customer(business_id=business.id, phone="+12125550182", name="Otto")
    session.add(customer)
    session.commit()
    set_consent(session, customer, "opted_out", source="keyword", now=clock.now())
    session.commit()
    response = post(
        owner,
        f"/customers/{customer.id}",
        {"phone": customer.phone, "name": "Otto", "consent": "granted"},
    )
    assert response.status_code == 422
    assert "only they can opt back in" in response.get_data(as_text=True)
    assert customers(session, business.id)[0].consent == "opted_out"


def test_recording_an_opt_out_cancels_scheduled_texts(owner, session, business, clock):
    customer = Customer(business_id=business.id, phone="+12125550183", name="Pia")
    session.add(customer)
    session.commit()
    set_consent(session, customer, "granted", source="form", now=clock.now())
    queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    session.commit()
    post(
        owner,
        f"/customers/{customer.id}",
        {"phone": customer.phone, "name": "Pia", "consent": "opted_out"},
    )
    statuses = session.exec(select(Message.status)).all()
    session.commit()
    assert customers(session, business.id)[0].consent == "opted_out"
    assert statuses == ["canceled"]


def test_the_list_searches_and_pages(owner, session, business):
    for n in range(30):
        session.add(
            Customer(
                business_id=business.id,
                phone=f"+1212555{2000 + n:04d}",
                name=f"Person {n:02d}",
                email=f"p{n}@example.com",
            )
        )
    session.commit()
    page = owner.get("/customers/").get_data(as_text=True)
    names = re.findall(r'<span class="name">([^<]+)</span>', page)
    assert names == [f"Person {n:02d}" for n in range(29, 4, -1)]
    more = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    rest = re.findall(r'<span class="name">([^<]+)</span>', owner.get(more).get_data(as_text=True))
    assert rest == [f"Person {n:02d}" for n in range(4, -1, -1)]
    found = owner.get("/customers/?q=p7@example").get_data(as_text=True)
    assert re.findall(r'<span class="name">([^<]+)</span>', found) == ["Person 07"]
    assert "Person 07" in owner.get("/customers/?q=2007").get_data(as_text=True)


# ---- CSV ----------------------------------------------------------------------------------


GOOD_CSV = (
    "phone,name,email,tags,consent\n"
    "+12125550190,Ann Able,ann@example.com,vip,yes\n"
    "(212) 555-0191,Ben Baker,,,no\n"
)
BAD_CSV = GOOD_CSV + "not-a-phone,Cal,,,yes\n+12125550192,Dee,,,maybe\n"


def upload(client, text: str, path: str = "/customers/import"):
    token = csrf_token(client.get("/customers/import").get_data(as_text=True))
    return client.post(
        path,
        data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "customers.csv")},
        content_type="multipart/form-data",
    )


def test_import_shows_a_preview_then_imports_everything(owner, session, business):
    preview = upload(owner, GOOD_CSV)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Ready to import 2 customers" in page and "Ann Able" in page and "(212) 555-0191" in page
    assert customers(session, business.id) == []  # nothing yet
    token = csrf_token(page)
    text = re.search(r'<textarea name="csv_text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    done = owner.post(
        "/customers/import/confirm",
        data={"csrf_token": token, "csv_text": text.replace("&#39;", "'")},
    )
    assert done.status_code == 302
    imported = customers(session, business.id)
    assert [(c.phone, c.name, c.consent) for c in imported] == [
        ("+12125550190", "Ann Able", "granted"),
        ("+12125550191", "Ben Baker", "unknown"),
    ]
    assert "Imported: 2 new, 0 updated." in owner.get("/customers/").get_data(as_text=True)


def test_a_bad_row_is_listed_and_nothing_is_imported(owner, session, business):
    preview = upload(owner, BAD_CSV)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 422
    assert "2 rows to fix" in page and "Nothing was imported" in page
    assert "Row 4:" in page and "Row 5:" in page and "consent must be yes or no" in page
    assert "csv_text" not in page  # no way to import it as it is
    forced = owner.post(
        "/customers/import/confirm",
        data={"csrf_token": token_for(owner, "/customers/import"), "csv_text": BAD_CSV},
    )
    assert forced.status_code == 422
    assert customers(session, business.id) == []


def test_an_empty_or_unreadable_upload_is_explained(owner, business):
    assert "Choose a CSV file" in upload(owner, "").get_data(as_text=True)
    token = csrf_token(owner.get("/customers/import").get_data(as_text=True))
    latin = owner.post(
        "/customers/import",
        content_type="multipart/form-data",
        data={
            "csrf_token": token,
            "file": (io.BytesIO("phone,name\n+12125550193,Jos\xe9\n".encode("latin-1")), "c.csv"),
        },
    )
    assert latin.status_code == 422 and "not UTF-8" in latin.get_data(as_text=True)
    no_phone = upload(owner, "name\nAnn\n")
    assert "must have a &#39;phone&#39; column" in no_phone.get_data(as_text=True)


def test_export_lists_every_customer_safely_and_imports_back(owner, session, business):
    session.add(
        Customer(
            business_id=business.id,
            phone="+12125550194",
            name="=HYPERLINK(1)",
            tags=["vip"],
            notes="line one\nline two",
        )
    )
    session.add(Customer(business_id=business.id, phone="+12125550195", name="Plain Jane"))
    session.commit()
    response = owner.get("/customers/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    exported = response.get_data(as_text=True)
    response.close()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["phone"] for r in rows] == ["+12125550194", "+12125550195"]
    assert rows[0]["name"] == "'=HYPERLINK(1)" and rows[0]["notes"] == "line one\nline two"
    assert rows[1]["consent"] == "no" and rows[1]["consent_state"] == "unknown"
    again = upload(owner, exported)
    assert again.status_code == 200 and "2 already on file" in again.get_data(as_text=True)
