"""Names, never emails, and staff as a list: the name asked for at first sign-in and on
invites; the staff list on the team page (with or without a sign-in), offered in the visit
form, matched case-insensitively wherever a visit is recorded (API, form, CSV) and counted
that way on the dashboard; GET and POST /api/v1/staff."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from app.models import StaffMember, User, Visit
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    OWNER_EMAIL,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_user,
    csrf_token,
    other_business,
    post,
    sign_in,
    token_for,
)

METRICS = "/api/v1/metrics?from=2026-03-01&to=2026-03-10"  # the clock's day included


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def user(engine, email: str) -> User:
    with Session(engine) as s:
        return s.exec(select(User).where(User.email == email)).one()


def staff_rows(engine, business_id: int) -> list[StaffMember]:
    with Session(engine) as s:
        query = select(StaffMember).where(StaffMember.business_id == business_id)
        return list(s.exec(query.order_by(StaffMember.id)))


def names(engine, business_id: int) -> list[str]:
    return [row.name for row in staff_rows(engine, business_id)]


# ---- A. the name, asked for ----------------------------------------------------------------


def test_first_sign_in_asks_for_a_name_and_a_blank_one_is_refused(client, business, engine):
    response = sign_in(client, query_string={"next": "/customers/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/name?next=/customers/"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "What should customers call you?" in page
    assert 'class="tabs"' not in page  # a step of its own: save or skip, nothing else
    token = csrf_token(page)
    blank = client.post("/account/name", data={"csrf_token": token, "name": "   ",
                                                "next": "/customers/"})  # fmt: skip
    assert blank.status_code == 422
    assert "Enter a name of 1 to 80 characters." in blank.get_data(as_text=True)
    assert user(engine, OWNER_EMAIL).name == ""
    too_long = client.post("/account/name", data={"csrf_token": token, "name": "R" * 81})
    assert too_long.status_code == 422 and user(engine, OWNER_EMAIL).name == ""
    saved = client.post("/account/name", data={"csrf_token": token, "name": "  Rosa   Diaz ",
                                                "next": "/customers/"})  # fmt: skip
    assert saved.status_code == 302 and saved.headers["Location"] == "/customers/"
    assert user(engine, OWNER_EMAIL).name == "Rosa Diaz"
    [rosa] = staff_rows(engine, business.id)  # on the staff list, linked to her sign-in
    assert rosa.name == "Rosa Diaz" and rosa.user_id == user(engine, OWNER_EMAIL).id
    client.post("/sign-out", data={"csrf_token": token_for(client, "/account")})
    assert sign_in(client).headers["Location"] == "/inbox"  # asked once: she has a name now


def test_the_name_step_is_skipped_only_with_its_button(client, business, engine):
    sign_in(client)
    token = token_for(client, "/account/name")
    skipped = client.post("/account/name", data={"csrf_token": token, "skip": "1",
                                                  "next": "//evil.example/"})  # fmt: skip
    assert skipped.status_code == 302 and skipped.headers["Location"] == "/inbox"  # on site
    assert user(engine, OWNER_EMAIL).name == "" and staff_rows(engine, business.id) == []
    no_token = client.post("/account/name", data={"name": "Rosa"})
    assert no_token.status_code == 400 and user(engine, OWNER_EMAIL).name == ""


def invite_link(client, name: str, email: str) -> str:
    response = post(client, "/settings/team", {"email": email, "name": name, "role": "staff"})
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    return urlsplit(re.search(r'id="invite-link"[^>]*>([^<]+)</textarea>', page).group(1)).path


def test_an_invite_carries_a_name_the_invitee_confirms_or_changes(app, client, business, engine):
    sign_in(client)
    assert 'id="f-name"' in client.get("/settings/team").get_data(as_text=True)
    missing = post(client, "/settings/team", {"email": "leo@bloom.test", "name": " ",
                                              "role": "staff"})  # fmt: skip
    assert missing.status_code == 422 and "Enter a name" in missing.get_data(as_text=True)
    path = invite_link(client, "Leo", "leo@bloom.test")
    assert names(engine, business.id) == ["Leo"]  # on the list as soon as invited
    leo = app.test_client()
    page = leo.get(path).get_data(as_text=True)
    assert 'id="f-name"' in page and 'value="Leo"' in page
    token = csrf_token(page)
    form = {"csrf_token": token, "password": "leo's new password",
            "confirm": "leo's new password"}  # fmt: skip
    blank = leo.post(path, data={**form, "name": ""})
    assert blank.status_code == 422 and "Enter a name" in blank.get_data(as_text=True)
    assert sign_in(app.test_client(), "leo@bloom.test", "leo's new password").status_code == 401
    done = leo.post(path, data={**form, "name": "Leonardo"})
    assert done.status_code == 302 and done.headers["Location"] == "/inbox"
    assert user(engine, "leo@bloom.test").name == "Leonardo"
    [entry] = staff_rows(engine, business.id)
    assert entry.name == "Leonardo" and entry.user_id == user(engine, "leo@bloom.test").id
    again = sign_in(app.test_client(), "leo@bloom.test", "leo's new password")
    assert again.headers["Location"] == "/inbox"  # named: no name step


def test_inviting_a_name_already_on_the_list_links_that_entry(client, business, engine):
    sign_in(client)
    assert post(client, "/settings/team/staff", {"name": "Ana Ruiz"}).status_code == 302
    invite_link(client, "ana ruiz", "ana@bloom.test")
    [ana] = staff_rows(engine, business.id)
    assert ana.name == "ana ruiz" and ana.user_id == user(engine, "ana@bloom.test").id


# ---- B. the staff list on the team page -----------------------------------------------------


def test_the_owner_adds_renames_and_deactivates_staff(client, business, engine, auth):
    sign_in(client)
    added = post(client, "/settings/team/staff", {"name": "  Zoe  "}, token_path="/settings/team")
    assert added.status_code == 302
    page = client.get("/settings/team").get_data(as_text=True)
    assert "Zoe" in page and "No sign-in" in page
    for bad, words in (("ZOE", "Zoe is already on the list."),
                       ("", "Enter a name of 1 to 80 characters."),
                       ("x" * 81, "Use at most 80 characters.")):  # fmt: skip
        refused = post(client, "/settings/team/staff", {"name": bad})
        assert refused.status_code == 422 and words in refused.get_data(as_text=True), bad
    assert names(engine, business.id) == ["Zoe"]
    [zoe] = staff_rows(engine, business.id)
    client.post("/api/v1/visits", json={"phone": "+12125550123", "name": "Maria",
                                        "consent": True, "staff": "zoe"}, headers=auth)  # fmt: skip
    renamed = post(client, f"/settings/team/staff/{zoe.id}/name", {"name": "Zoë"})
    assert renamed.status_code == 302 and names(engine, business.id) == ["Zoë"]
    with Session(engine) as s:
        assert [v.staff for v in s.exec(select(Visit))] == ["Zoë"]  # her visits follow her
    post(client, "/settings/team/staff", {"name": "Ben"})
    clash = post(client, f"/settings/team/staff/{zoe.id}/name", {"name": "ben"})
    assert clash.status_code == 422 and "Ben is already on the list." in clash.get_data(
        as_text=True
    )
    off = post(client, f"/settings/team/staff/{zoe.id}/active", {"active": "0"})
    assert off.status_code == 302
    form = client.get("/visits/new").get_data(as_text=True)
    assert '<option value="Ben"' in form and '<option value="Zoë"' not in form  # not offered
    assert "Zoë" in client.get("/settings/team").get_data(as_text=True)  # still listed
    post(client, f"/settings/team/staff/{zoe.id}/active", {"active": "1"})
    assert '<option value="Zoë"' in client.get("/visits/new").get_data(as_text=True)


def test_staff_with_a_sign_in_change_their_own_name(client, business, engine, session):
    ana = add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff", "")
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    post(client, "/account/name", {"name": "Ana"}, token_path="/account/name")
    [entry] = staff_rows(engine, business.id)
    assert entry.user_id == ana.id
    owner = client.application.test_client()
    sign_in(owner)
    refused = post(owner, f"/settings/team/staff/{entry.id}/name", {"name": "Anita"})
    assert refused.status_code == 422 and "their own account page" in refused.get_data(as_text=True)
    post(client, "/account/profile", {"name": "Ana Ruiz"})  # her account page
    assert names(engine, business.id) == ["Ana Ruiz"]
    assert post(client, "/settings/team/staff", {"name": "Leo"}).status_code == 403  # staff


def test_the_staff_list_is_the_business_own(client, business, engine, session, clock):
    other = other_business(session, clock)
    theirs = StaffMember(business_id=other.id, name="Ana", name_key="ana", created_at=clock.now())
    session.add(theirs)
    session.commit()
    sign_in(client)
    for path in (
        f"/settings/team/staff/{theirs.id}/name",
        f"/settings/team/staff/{theirs.id}/active",
    ):
        assert post(client, path, {"name": "Mine", "active": "0"}).status_code == 404
    assert staff_rows(engine, other.id)[0].name == "Ana" and staff_rows(engine, other.id)[0].active
    assert "Ana" not in client.get("/settings/team").get_data(as_text=True)
    assert (
        post(client, "/settings/team/staff", {"name": "Ana"}).status_code == 302
    )  # theirs is theirs
    assert names(engine, business.id) == ["Ana"]


# ---- B. one rule wherever a visit is recorded -------------------------------------------------


def test_ana_and_ANA_count_as_Ana_in_the_metrics(client, business, engine, auth):
    sign_in(client)
    post(client, "/settings/team/staff", {"name": "Ana"})
    visit = {"phone": "+12125550123", "name": "Maria", "consent": True, "staff": "ana"}
    first = client.post("/api/v1/visits", json=visit, headers=auth)
    assert first.status_code == 201 and first.json["staff"] == "Ana"
    visit = {"phone": "+12125550124", "name": "Sam", "consent": True, "staff": " ANA "}
    second = client.post("/api/v1/visits", json=visit, headers=auth)
    assert second.json["staff"] == "Ana"
    form = post(client, "/visits/", {"phone": "2125550125", "name": "Priya", "staff": "",
                                     "staff_new": "aNa"}, token_path="/visits/new")  # fmt: skip
    assert form.status_code == 302
    new = post(client, "/visits/", {"phone": "2125550126", "staff_new": "Leo"},
               token_path="/visits/new")  # fmt: skip
    assert new.status_code == 302
    assert names(engine, business.id) == ["Ana", "Leo"]  # a new name joins the list
    picked = post(client, "/visits/", {"phone": "2125550127", "staff": "Leo"},
                  token_path="/visits/new")  # fmt: skip
    assert picked.status_code == 302
    staff = client.get(METRICS, headers=auth).json["staff"]
    assert {row["staff"]: row["visits"] for row in staff} == {"Ana": 3, "Leo": 2}


def test_older_spellings_count_together_on_the_dashboard(client, business, engine, auth, session):
    for phone, name in (("+12125550123", "ana"), ("+12125550124", "ANA")):
        client.post("/api/v1/visits", json={"phone": phone, "consent": True, "staff": name},
                    headers=auth)  # fmt: skip
    # A visit written before the list existed, in a third spelling.
    visit = session.exec(select(Visit)).first()
    session.add(Visit(business_id=business.id, customer_id=visit.customer_id,
                      occurred_at=visit.occurred_at, staff="Ana"))  # fmt: skip
    session.commit()
    staff = client.get(METRICS, headers=auth).json["staff"]
    assert [(row["staff"], row["visits"]) for row in staff] == [("ana", 3)]  # the list's own


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_csv_import_matches_the_list(cli, engine, tmp_path, business, session, clock):
    session.add(StaffMember(business_id=business.id, name="Ana", name_key="ana",
                            created_at=clock.now()))  # fmt: skip
    session.commit()
    path = tmp_path / "visits.csv"
    path.write_text("phone,staff\n+12125550123,ANA\n+12125550124,ben\n+12125550125,\n",
                    encoding="utf-8")  # fmt: skip
    code, _out, err = cli("import-visits", str(path), "--business", str(business.id))
    assert code == 0, err
    with Session(engine) as s:
        assert sorted(v.staff or "" for v in s.exec(select(Visit))) == ["", "Ana", "ben"]
    assert names(engine, business.id) == ["Ana", "ben"]


def test_a_bad_staff_name_records_no_visit(client, business, engine, auth):
    long = client.post("/api/v1/visits", json={"phone": "+12125550123", "consent": True,
                                               "staff": "x" * 81}, headers=auth)  # fmt: skip
    assert long.status_code == 422 and long.json["error"]["field"] == "staff"
    sign_in(client)
    page = post(client, "/visits/", {"phone": "2125550123", "staff_new": "y" * 81},
                token_path="/visits/new")  # fmt: skip
    assert page.status_code == 422 and "Use at most 80 characters." in page.get_data(as_text=True)
    with Session(engine) as s:
        assert s.exec(select(Visit)).first() is None
    assert staff_rows(engine, business.id) == []


# ---- B. the API -------------------------------------------------------------------------------


def test_the_staff_api_lists_and_adds_names(client, business, engine, auth, session, clock):
    other = other_business(session, clock)
    session.add(StaffMember(business_id=other.id, name="Nina", name_key="nina",
                            created_at=clock.now()))  # fmt: skip
    session.commit()
    created = client.post("/api/v1/staff", json={"name": "Ana"}, headers=auth)
    assert created.status_code == 201
    assert created.json["name"] == "Ana" and created.json["active"] is True
    assert created.json["signs_in"] is False
    again = client.post("/api/v1/staff", json={"name": "ANA"}, headers=auth)
    assert again.status_code == 200 and again.json["id"] == created.json["id"]
    for body in ({"name": ""}, {"name": "x" * 81}, {"name": 5}, {}, {"name": "Ana", "x": 1}):
        refused = client.post("/api/v1/staff", json=body, headers=auth)
        assert refused.status_code == 422, body
    listed = client.get("/api/v1/staff", headers=auth).json
    assert [item["name"] for item in listed["items"]] == ["Ana"]  # not the other business's
    assert listed["next_cursor"] is None
    assert client.get("/api/v1/staff?active=false", headers=auth).json["items"] == []
    assert client.get("/api/v1/staff").status_code == 401
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/staff"])


# ---- the list starts from what a shop already has -----------------------------------------------


def test_the_migration_fills_the_list_from_the_team_and_the_visits(tmp_path):
    import sqlalchemy as sa
    from alembic import command

    from app.db import make_engine
    from app.migrate import alembic_config
    from tests.integration.test_migrations import insert_shop

    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    config = alembic_config(engine=engine)
    command.upgrade(config, "0008_saved_replies")
    with engine.begin() as c:
        insert_shop(c, [("+12125550123", "granted")])
        c.execute(sa.text(
            "INSERT INTO app_user (business_id, email, password_hash, role, name, active, "
            "session_version, created_at) VALUES (1, 'a@b.test', 'x', 'owner', 'Rosa', 1, 0, "
            "'2026-01-01 00:00:00'), (1, 'c@b.test', 'x', 'staff', '', 1, 0, "
            "'2026-01-01 00:00:00')"))  # fmt: skip
        for name in ("ana", "Ana", "Ana", "rosa", "Leo", None):
            c.execute(sa.text(
                "INSERT INTO visit (business_id, customer_id, occurred_at, staff, status, "
                "source, created_at) VALUES (1, 1, '2026-01-02 00:00:00', :staff, 'completed', "
                "'api', '2026-01-02 00:00:00')"), {"staff": name})  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as c:
        query = "SELECT name, user_id IS NOT NULL, active FROM staff_member ORDER BY id"
        rows = c.execute(sa.text(query)).all()
    assert [tuple(row) for row in rows] == [("Rosa", 1, 1), ("Ana", 0, 1), ("Leo", 0, 1)]
    command.downgrade(config, "0008_saved_replies")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM visit")).scalar_one() == 6
    engine.dispose()


def test_a_renamed_staff_member_is_renamed_in_the_kept_days_too(client, business, auth, engine):
    """The days that are over are kept (app.care.figures); a rename counts them again."""
    sign_in(client)
    post(client, "/settings/team/staff", {"name": "Zoe"}, token_path="/settings/team")
    visit = client.post("/api/v1/visits", headers=auth, json={
        "phone": "+12125550123", "name": "Maria", "consent": True, "staff": "zoe",
        "occurred_at": "2026-03-02T15:00:00Z"})  # fmt: skip
    assert visit.status_code == 201, visit.json
    ask = "/api/v1/metrics?from=2026-03-01&to=2026-03-05"
    before = {row["staff"]: row["visits"] for row in client.get(ask, headers=auth).json["staff"]}
    assert before == {"Zoe": 1}
    [zoe] = staff_rows(engine, business.id)
    assert post(client, f"/settings/team/staff/{zoe.id}/name", {"name": "Zoë"}).status_code == 302
    after = {row["staff"]: row["visits"] for row in client.get(ask, headers=auth).json["staff"]}
    assert after == {"Zoë": 1}
