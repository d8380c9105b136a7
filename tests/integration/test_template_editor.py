"""Texts the owner edits without code (issue 13, item 4), through the Texts pages: merge fields
as named tokens read back into the same Jinja, previews that are exactly what the dispatcher
sends (the business's name and the STOP line on a first text), a warning with a fix before a
text that would read "with ." is saved, and hostile templates refused in plain words."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from app.care import editing, merge, texts
from app.models import BusinessTemplate, Customer, TrackedLink
from app.sms.encoding import segment_info
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_owner_helpers import OVERRIDES, post

NO_NAME_PHONE = "+12125550177"
WITH_GAP = "Loved having you in the chair with [Staff name]. See you soon!"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def page_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def shown(fragment: str) -> dict[str, str]:
    """Each sample customer's label and the text the page shows them getting."""
    fragment = html.unescape(fragment)
    who = re.findall(r'<p class="sample-who">([^<]*?)(?: · their first text)?</p>', fragment)
    said = re.findall(r"<p class=\"preview-text\" data-preview-text>([^<]*)</p>", fragment)
    assert len(who) == len(said) == len(editing.SAMPLES), fragment
    return dict(zip(who, said, strict=True))


def live(owner, kind: str, **form) -> dict:
    response = post(owner, f"/templates/{kind}/preview", form, token_path=f"/templates/{kind}")
    assert response.status_code == 200
    return response.get_json()


def textarea(page: str) -> tuple[str, str]:
    """(name, value) of the editor's text box."""
    match = re.search(r'<textarea id="source" name="(\w+)"[^>]*>([^<]*)</textarea>', page, re.S)
    assert match, "no editor on the page"
    return match.group(1), match.group(2)


def saved(session, business, kind: str) -> str | None:
    with Session(session.get_bind()) as fresh:
        return fresh.exec(
            select(BusinessTemplate.body).where(
                BusinessTemplate.business_id == business.id, BusinessTemplate.kind == kind
            )
        ).first()


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


# ---- the plain form ---------------------------------------------------------------------------


def test_the_editor_shows_named_fields_and_reads_them_back_into_the_same_jinja(
    owner, session, business
):
    page = page_of(owner.get("/templates/thank_you"))
    name, value = textarea(page)
    assert name == "text"
    assert value == (
        "Hi [First name or there], thank you for visiting [Business name][if Staff name] and "
        "seeing [Staff name][end if] today! Reply here any time if there is anything we can "
        "do for you."
    )
    assert "{{" not in value and "{%" not in value
    # The chips: the kind's fields, named by care.merge's one list, each inserting its token.
    chips = re.findall(r'data-insert="([^"]*)"[^>]*>\+ ([^<]*)</button>', page)
    assert chips == [
        (f"[{merge.FIELDS[f].label}]", merge.FIELDS[f].label)
        for f in texts.MERGE_FIELDS["thank_you"]
    ]
    assert [label for _, label in chips] == ["First name", "Business name", "Staff name"]

    # Saved as shown, the stored template is the default's Jinja to the character.
    response = post(owner, "/templates/thank_you", {"text": value, "action": "save"})
    assert response.status_code == 302
    assert saved(session, business, "thank_you") == texts.default_source("thank_you").rstrip("\n")


@pytest.mark.parametrize("kind", texts.EDITABLE_KINDS)
def test_every_default_text_opens_in_a_form_that_saves_back_unchanged(owner, session, business,
                                                                      kind):  # fmt: skip
    default = texts.default_source(kind).rstrip("\n")
    name, value = textarea(page_of(owner.get(f"/templates/{kind}")))
    # The one default with a comparison in it opens as its code; the others in plain words.
    assert name == ("source" if kind == "feedback_question" else "text"), kind
    response = post(owner, f"/templates/{kind}", {name: value, "action": "save"})
    assert response.status_code == 302, page_of(response)
    assert saved(session, business, kind).rstrip("\n") == default


def test_a_text_the_plain_form_cannot_say_is_edited_as_its_code(owner, session, business):
    advanced = ("{% if staff_name == 'Ana' %}Ana says hi, {{ first_name|title }}!{% else %}"
                "Hi {{ first_name or 'there' }}!{% endif %}")  # fmt: skip
    assert post(owner, "/templates/thank_you", {"source": advanced, "action": "save"}).status_code
    page = page_of(owner.get("/templates/thank_you"))
    assert textarea(page) == ("source", advanced)
    assert "conditions the simple editor cannot show" in page
    assert 'data-insert="{{ first_name }}"' in page  # chips put in code there
    assert "Back to the simple editor" not in page
    # A plain text can be edited as code too, and goes back to the simple editor.
    post(owner, "/templates/thank_you/reset")
    code = page_of(owner.get("/templates/thank_you?mode=source"))
    assert textarea(code)[0] == "source" and "Back to the simple editor" in code


def test_hostile_templates_are_refused_in_plain_words_and_nothing_is_saved(owner, session,
                                                                          business):  # fmt: skip
    attacks = {
        "Hi [First name]{% for x in 'aaaaaaaaaa' %}{{ x }}{% endfor %}": "not loops or macros",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}": "only use merge fields",
        "{% set x = 'aaaaaaaaaa' %}{{ x }}": "{% set %}",
        "Hi [First name] {{ config }}": "There is nothing called “config” to fill in.",
    }
    for typed, reason in attacks.items():
        response = post(owner, "/templates/thank_you", {"text": typed, "action": "save"})
        assert response.status_code == 422, typed
        page = page_of(response)
        assert 'role="alert"' in page and reason in page, typed
        answer = live(owner, "thank_you", text=typed)
        assert answer["ok"] is False and reason in answer["error"], typed
    # A field this text cannot have is named as the owner writes it.
    response = post(owner, "/templates/thank_you", {"text": "See [Review link]", "action": "save"})
    assert response.status_code == 422
    assert "This text can use: [First name], [Business name], [Staff name]." in page_of(response)
    assert saved(session, business, "thank_you") is None


# ---- exact previews ---------------------------------------------------------------------------


def test_the_preview_is_exactly_what_the_dispatcher_sends(owner, story, clock, engine):
    typed = (
        "Hi [First name or there], thanks for coming in[if Staff name] to see [Staff name][end if]!"
    )
    assert post(owner, "/templates/thank_you", {"text": typed, "action": "save"}).status_code == 302
    customers, links = count(engine, Customer), count(engine, TrackedLink)
    previews = shown(live(owner, "thank_you", text=typed)["html"])
    assert (count(engine, Customer), count(engine, TrackedLink)) == (customers, links)
    maria = previews["Maria, a new customer"]
    nobody = previews["A new customer with no name and no staff recorded"]
    regular = previews["Christopher, a regular with long names"]
    assert (
        maria
        == "Bloom Hair Studio: Hi Maria, thanks for coming in to see Rosa! Reply STOP to opt out."
    )
    assert nobody == "Bloom Hair Studio: Hi there, thanks for coming in! Reply STOP to opt out."
    assert regular == "Hi Christopher, thanks for coming in to see Alexandra!"  # introduced before

    # The same customers, for real: a visit each, and the thank-you the dispatcher sends.
    story.visit(CUSTOMER_PHONE, "Maria Lopez", staff="Rosa")
    story.visit(NO_NAME_PHONE, "")
    sent = dict(story.run_until(clock.now() + timedelta(hours=3)))
    assert sent == {CUSTOMER_PHONE: maria, NO_NAME_PHONE: nobody}


def test_a_review_request_preview_has_a_link_of_the_real_ones_length(owner, story):
    maria = shown(owner_fragment(owner, "review_request"))["Maria, a new customer"]
    created = story.client.post("/api/v1/customers", headers=story.auth,
                                json={"phone": CUSTOMER_PHONE, "name": "Maria Lopez",
                                      "consent": True})  # fmt: skip
    assert created.status_code in (200, 201), created.json
    asked = story.client.post(
        "/api/v1/messages",
        headers=story.auth,
        json={"phone": CUSTOMER_PHONE, "template": "review_request"},
    )
    assert asked.status_code == 202, asked.json
    [(_to, real)] = story.run()
    token = re.compile(r"/l/[A-Za-z0-9_-]{12}")
    assert token.sub("/l/TOKEN", real) == token.sub("/l/TOKEN", maria)
    assert len(real) == len(maria)  # so the count and the cost are the real ones


def owner_fragment(owner, kind: str) -> str:
    page = owner.get(f"/templates/{kind}").get_data(as_text=True)
    start = page.index("data-template-preview>")
    return page[start : page.index("</ul>", start)]


def test_segments_and_cost_are_shown_for_each_sample(owner):
    long = "Hi [First name], " + "thank you so much for coming in today, " * 4 + "😀"
    fragment = html.unescape(live(owner, "thank_you", text=long)["html"])
    counts = re.findall(r"data-preview-count>([^<]*)<", fragment)
    assert len(counts) == len(editing.SAMPLES)
    for text, count_line in zip(shown(fragment).values(), counts, strict=True):
        info = segment_info(text)
        assert count_line == (
            f"{len(text)} characters · {info.segments} texts · about "
            f"{info.segments * 1.1:.1f}¢ · emoji or special letters: shorter texts"
        )


# ---- gaps -------------------------------------------------------------------------------------


def test_a_text_that_reads_with_dot_when_no_staff_is_known_warns_and_offers_the_fix(
    owner, session, business
):
    response = post(owner, "/templates/thank_you", {"text": WITH_GAP, "action": "save"})
    assert response.status_code == 200
    page = page_of(response)
    assert saved(session, business, "thank_you") is None  # not saved: the owner is asked
    assert "A customer with no staff name would get:" in page
    assert "“Loved having you in the chair with . See you soon!”" in page
    assert "Say “with [Staff name]” only when the staff name is known" in page
    assert "Then they get: “Loved having you in the chair. See you soon!”" in page
    assert 'value="save_anyway"' in page
    assert textarea(page) == ("text", WITH_GAP)  # what they typed, as they typed it

    # The fix, taken with a tap: shown in the editor, saved by the next Save.
    [fix] = re.findall(r'name="fixed_source" value="([^"]*)"', response.get_data(as_text=True))[:1]
    fixed = html.unescape(fix)
    taken = post(owner, "/templates/thank_you", {"text": WITH_GAP, "fixed_source": fixed})
    assert textarea(page_of(taken)) == (
        "text",
        "Loved having you in the chair[if Staff name] with [Staff name][end if]. See you soon!",
    )
    assert saved(session, business, "thank_you") is None
    _, text = textarea(page_of(taken))
    assert post(owner, "/templates/thank_you", {"text": text, "action": "save"}).status_code == 302
    stored = saved(session, business, "thank_you")
    assert stored == (
        "Loved having you in the chair{% if staff_name %} with {{ staff_name }}{% endif %}."
        " See you soon!"
    )
    fields = {"business_name": "Bloom", "first_name": "", "staff_name": ""}
    assert texts.render_source(stored, **fields) == "Loved having you in the chair. See you soon!"
    assert editing.gaps("thank_you", stored, business.name) == []


def test_hi_comma_with_no_first_name_offers_a_fallback_and_saving_anyway_is_deliberate(
    owner, session, business
):
    typed = "Hi [First name], your color is ready!"
    answer = live(owner, "thank_you", text=typed)
    fragment = html.unescape(answer["html"])
    assert "A customer with no first name would get:" in fragment  # while typing, already
    assert "“Hi , your color is ready!”" in fragment
    assert 'data-fix="Hi [First name or there], your color is ready!"' in fragment
    assert "Then they get: “Hi there, your color is ready!”" in fragment
    assert "Saving will ask you first." in fragment
    # The sample with no name shows the gap as it would go, too.
    previews = shown(fragment)
    assert previews["A new customer with no name and no staff recorded"].startswith(
        "Bloom Hair Studio: Hi , your color"
    )

    anyway = post(owner, "/templates/thank_you", {"text": typed, "action": "save_anyway"})
    assert anyway.status_code == 302
    assert saved(session, business, "thank_you") == "Hi {{ first_name }}, your color is ready!"


def test_the_texts_list_marks_a_text_with_a_gap(owner):
    post(owner, "/templates/thank_you", {"text": WITH_GAP, "action": "save_anyway"})
    page = page_of(owner.get("/templates/"))
    assert page.count("Leaves a gap when a name is missing") == 1
    assert "Loved having you in the chair with Rosa. See you soon! Reply STOP to opt out." in page
