"""Default texts (app/care/texts.py): a sandbox that sees only merge fields, short output."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from app.care import texts
from app.sms.encoding import segment_info

TEMPLATE_KINDS = sorted(p.stem for p in texts.SMS_TEMPLATES.glob("*.txt"))

LONG_NAME = "Maximilianus Bartholomew-Quinn"  # 30 characters, no space to split on
LONG_BUSINESS = "Ye Olde Barbershop & Beard Emporium of Springfield"
LONG_FIELDS = {
    "first_name": LONG_NAME,
    "business_name": LONG_BUSINESS,
    "staff_name": "Anastasia Konstantinopoulou-Li",
    "business_phone": "+12125550100",
    "review_link": "https://regulars-for-small-business.example/l/Xk3d9QpL2mZtRw7y",
    "referral_link": "https://regulars-for-small-business.example/r/MAXIMILIANUS42",
    "reward": "You have earned $10 off your next visit with us.",
    "offer": "15% off their first visit with us",  # a referral offer, as owners write them
    "offers": True,  # the friend ticked offers too
    "next_opening": "9:00 AM Wednesday",
    "reason": "unhappy reply from",
    "customer_name": "Maximilianus Bartholomew-Quinn",
    "customer_phone": "+12125550123",
    "excerpt": "The color came out much darker than we agreed and nobody called me back abo",
    "link": "https://regulars-for-small-business.example/l/Xk3d9QpL2mZtRw7y",
    "unhappy": False,
    "visit_count": "25th",  # a milestone thank-you
    "years": "12 years",  # an anniversary
}
# Texts to the owner's own phone do not introduce the business.
TO_OWNER = {"owner_alert"}


def test_the_default_templates_are_there():
    assert {"help", "opt_in_confirmation", "opt_out_confirmation", "thank_you"} <= set(
        TEMPLATE_KINDS
    )
    assert len(LONG_NAME) == 30


# ---- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ business_name.__class__.__base__.__subclasses__() }}",
        "{{ business_name|attr('__class__') }}",
        "{{ business_name.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ self.__init__ }}",
        "{% set items = [] %}{{ items.append(1) }}",  # immutable sandbox: no mutation
        "{{ {}.update(a=1) }}",
    ],
)
def test_sandbox_refuses_internals(source):
    with pytest.raises(SecurityError):
        texts.render_source(source, business_name="Bloom")


@pytest.mark.parametrize("source", ["{{ config }}", "{{ request }}", "{{ settings }}"])
def test_nothing_but_merge_fields_is_in_scope(source):
    with pytest.raises(UndefinedError):
        texts.render_source(source, business_name="Bloom")


def test_missing_merge_field_raises():
    with pytest.raises(UndefinedError, match="first_name"):
        texts.render_source("Hi {{ first_name }}!", business_name="Bloom")


def test_missing_field_used_in_a_condition_raises():
    with pytest.raises(UndefinedError):
        texts.render("thank_you", business_name="Bloom")  # first_name not passed at all


def test_misspelt_field_raises_rather_than_rendering_blank():
    with pytest.raises(UndefinedError):
        texts.render_source("Hi {{ frist_name }}", first_name="Sam")


def test_syntax_error_raises():
    with pytest.raises(TemplateSyntaxError):
        texts.render_source("Hi {{ first_name ", first_name="Sam")


def test_merge_values_are_not_html_escaped():
    assert texts.render_source("{{ b }}", b="Tom & Jerry's <Cuts>") == "Tom & Jerry's <Cuts>"


def test_merge_values_are_not_templates_themselves():
    assert texts.render_source("Hi {{ n }}", n="{{ 7 * 7 }}") == "Hi {{ 7 * 7 }}"


def test_whitespace_is_folded_to_one_line():
    source = "  Hi\n\n  {{ name }},\t\tthanks\r\n for   coming!  \n"
    assert texts.render_source(source, name="Sam") == "Hi Sam, thanks for coming!"


def test_whitespace_inside_values_is_folded_too():
    assert texts.render_source("Hi {{ name }}!", name="Sam \n\t Rivera") == "Hi Sam Rivera!"


# ---- the default texts ---------------------------------------------------------------------


def test_unknown_kind_raises_key_error():
    with pytest.raises(KeyError):
        texts.render("no_such_text", **LONG_FIELDS)


def test_kind_cannot_name_a_file_outside_the_sms_templates(tmp_path):
    # The API passes a caller's `template` name straight to render(): it must not be a path.
    outside = tmp_path / "leak.txt"
    outside.write_text("leaked {{ business_name }}")
    with pytest.raises(KeyError):
        texts.render(str(tmp_path / "leak"), business_name="Bloom")
    with pytest.raises(KeyError):
        texts.render("../sms/help", business_name="Bloom", business_phone=None)


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_every_default_text_fits_two_gsm7_segments_with_long_values(kind):
    body = texts.render(kind, **LONG_FIELDS)
    info = segment_info(body)
    assert info.encoding == "GSM-7", body
    assert info.segments <= 2, (info, body)
    if kind not in TO_OWNER:
        assert LONG_BUSINESS in body  # every text to a customer names the business
    assert "\n" not in body and "  " not in body


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
@pytest.mark.parametrize("unhappy", [False, True])
def test_first_contact_version_names_business_and_opt_out_within_two_segments(kind, unhappy):
    from types import SimpleNamespace

    from app.care.outbound import introduce

    if kind in TO_OWNER:
        return
    body = texts.render(kind, **{**LONG_FIELDS, "unhappy": unhappy})
    business = SimpleNamespace(name=LONG_BUSINESS)
    stranger = SimpleNamespace(introduced_at=None)
    first = introduce(body, business, stranger, kind)
    assert LONG_BUSINESS in first
    if kind != "opt_out_confirmation":
        assert "STOP" in first.upper()
    assert segment_info(first).segments <= 2, first


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_every_default_text_fits_with_the_longest_stored_business_name(kind):
    # Business.name allows 120 characters; the texts must still stay within two segments.
    fields = {**LONG_FIELDS, "business_name": ("Ye Olde Barbershop " * 7)[:120].strip()}
    assert segment_info(texts.render(kind, **fields)).segments <= 2


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_every_default_text_renders_with_empty_optional_fields(kind):
    fields = {**LONG_FIELDS, "first_name": "", "business_name": "Bloom", "staff_name": "",
              "business_phone": None, "customer_name": ""}  # fmt: skip
    body = texts.render(kind, **fields)
    assert "None" not in body
    assert " ," not in body and not body.startswith(",")
    assert segment_info(body).segments <= 2


def test_thank_you_uses_first_name_and_staff():
    body = texts.render(
        "thank_you", first_name="Sam", business_name="Bloom", staff_name="Ana", business_phone=None
    )
    assert body == (
        "Hi Sam, thank you for visiting Bloom and seeing Ana today! "
        "Reply here any time if there is anything we can do for you."
    )


def test_thank_you_without_a_name_says_there():
    body = texts.render("thank_you", first_name="", business_name="Bloom", staff_name="")
    assert body.startswith("Hi there, thank you for visiting Bloom today!")
    assert "seeing" not in body


def test_help_text_has_what_facts_requires():
    body = texts.render("help", business_name="Bloom", business_phone="+12125550100")
    assert body.startswith("Bloom:")
    assert "+12125550100" in body
    assert "Reply STOP to opt out" in body
    assert "Msg & data rates may apply" in body


def test_help_text_without_a_phone_skips_the_call_clause():
    body = texts.render("help", business_name="Bloom", business_phone=None)
    assert "call" not in body
    assert "Reply STOP to opt out" in body


def test_opt_out_confirmation_says_how_to_come_back():
    body = texts.render("opt_out_confirmation", business_name="Bloom")
    assert body.startswith("Bloom:")
    assert "START" in body


def test_opt_in_confirmation_says_how_to_leave():
    body = texts.render("opt_in_confirmation", business_name="Bloom")
    assert body.startswith("Bloom:")
    assert "STOP" in body and "HELP" in body
