"""The plain form of a text (care.editing) reads back into the same template, says nothing it
cannot say exactly, and the gaps an empty field leaves are found by rendering, each with fixes
that render without one."""

from __future__ import annotations

import pytest

from app.care import editing, texts

BUSINESS = "Bloom Hair Studio"


@pytest.mark.parametrize(
    ("plain", "source"),
    [
        ("Hi [First name]!", "Hi {{ first_name }}!"),
        ("Hi [first name]!", "Hi {{ first_name }}!"),  # as typed, in any case
        ("Hi [First name or there]!", 'Hi {{ first_name or "there" }}!'),
        ('Hi [First name or "my friend"]!', 'Hi {{ first_name or "my friend" }}!'),
        ('Hi [First name or the "best"]!', 'Hi {{ first_name or "the \\"best\\"" }}!'),
        ("[Customer name or Customer phone]", "{{ customer_name or customer_phone }}"),
        ("Thanks[if Staff name] and [Staff name][end if]!",
         "Thanks{% if staff_name %} and {{ staff_name }}{% endif %}!"),
        ("[if Unhappy]Sorry.[else]Great![end if]",
         "{% if unhappy %}Sorry.{% else %}Great!{% endif %}"),
        ("Use [10% off] and [Nickname]", "Use [10% off] and [Nickname]"),  # their own brackets
        ("Typed {{ first_name|upper }} by hand", "Typed {{ first_name|upper }} by hand"),
    ],
)  # fmt: skip
def test_the_plain_form_reads_into_its_template(plain, source):
    assert editing.to_source(plain) == source


@pytest.mark.parametrize("kind", [k for k in texts.EDITABLE_KINDS if k != "feedback_question"])
def test_every_default_reads_there_and_back_to_the_character(kind):
    source = texts.default_source(kind).rstrip("\n")
    plain = editing.to_plain(source)
    assert plain is not None and "{{" not in plain and "{%" not in plain
    assert editing.to_source(plain) == source


@pytest.mark.parametrize(
    "source",
    [
        texts.default_source("feedback_question"),  # a comparison
        "Hi {{ first_name|title }}",  # a filter
        "{% if first_name %}a{% elif staff_name %}b{% endif %}",
        "Call us [Business name] at {{ business_name }}",  # a literal that reads as a field
        "Hi {{ first_name or 'Staff name' }}",  # a fallback that reads as a field
        "Hi {{ first_name or 'there ' }}",  # spaces the plain form would fold
        "{{ ",
    ],
)
def test_what_the_plain_form_cannot_say_exactly_has_none(source):
    assert editing.to_plain(source) is None


@pytest.mark.parametrize(
    ("source", "field", "without"),
    [
        ("Loved having you in the chair with {{ staff_name }}.", "staff_name",
         "Loved having you in the chair with ."),
        ("Hi {{ first_name }}, see you!", "first_name", "Hi , see you!"),
        ("{{ first_name }}, see you!", "first_name", ", see you!"),
        ("See you with {{ staff_name }} today", "staff_name", "See you with today"),
        ("Your stylist ({{ staff_name }}) says hi", "staff_name", "Your stylist () says hi"),
        ("{{ first_name }}", "first_name", ""),
    ],
)  # fmt: skip
def test_a_gap_is_found_by_rendering_with_the_field_empty(source, field, without):
    [gap] = editing.gaps("thank_you", source, BUSINESS)
    assert (gap.name, gap.text) == (field, without)
    fields = texts.fields_of_kind("thank_you", texts.sample_fields(BUSINESS), BUSINESS)
    for fix in gap.fixes:  # every fix offered is valid and leaves no gap
        texts.validate_source("thank_you", fix.source, BUSINESS)
        assert editing.gaps("thank_you", fix.source, BUSINESS) == [], fix
        assert texts.render_text(fix.source, {**fields, field: ""}) == fix.result
        assert editing.to_source(fix.plain) == fix.source


@pytest.mark.parametrize(
    "source",
    [
        'Hi {{ first_name or "there" }}, thanks for coming with {{ staff_name or "us" }}.',
        "Thanks{% if staff_name %} and {{ staff_name }}{% endif %}!",
        "Thanks for coming by!",  # "by!" was there with every field filled
        "See you soon at {{ business_name }}.",  # a field never empty
        "Hi {{ first_name }} and welcome",  # folds to "Hi and welcome": no hole in it
    ],
)
def test_texts_without_a_gap_pass(source):
    assert editing.gaps("thank_you", source, BUSINESS) == []


def test_the_with_dot_fix_says_the_phrase_only_when_staff_is_known():
    [gap] = editing.gaps("thank_you", "Loved having you in the chair with {{ staff_name }}.",
                         BUSINESS)  # fmt: skip
    known, fallback = gap.fixes
    assert known.label == "Say “with [Staff name]” only when the staff name is known"
    assert known.plain == "Loved having you in the chair[if Staff name] with [Staff name][end if]."
    assert known.result == "Loved having you in the chair."
    assert fallback.result == "Loved having you in the chair with our team."


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("Hi[if Staff name] and [Staff name]!", "Every [if …] needs an [end if]"),
        ("Hi [end if] there", "An [end if] has no [if …] before it."),
        ("Hi [else] there", "An [else] goes once"),
        ("Hi [if Staff name]a[else]b[else]c[end if]", "An [else] goes once"),
        ("See [Review link]", "This text can use: [First name], [Business name], [Staff name]."),
    ],
)
def test_a_mistake_in_the_plain_form_is_told_in_its_words(typed, words):
    with pytest.raises(texts.TemplateError) as refused:
        texts.validate_source("thank_you", editing.to_source(typed), BUSINESS)
    assert words in editing.plain_words(refused.value.message)
