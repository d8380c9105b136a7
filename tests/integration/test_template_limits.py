"""Templates cannot grow without bound (issue 9, item 3): a saved text whose render could pass
the size limit is refused at save (API and the owner's Texts page) before it runs, the web
process's memory stays flat while someone tries, and rendering at send time is bounded too."""

from __future__ import annotations

import resource
import tracemalloc

import phonenumbers.geocoder  # noqa: F401 - loaded before memory is traced: tens of MB of data
import pytest
from sqlmodel import Session, func, select

from app.care import texts
from app.models import BusinessTemplate, Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_owner_helpers import post, sign_in

DOUBLE = "{% set x = 'aaaaaaaaaa' %}" + "{% set x = x ~ x %}" * 30 + "{{ x }}"  # 10 GB
ATTACKS = {
    "set doubling with ~": DOUBLE,
    "set doubling with +": "{% set x = 'aaaaaaaaaa' %}" + "{% set x = x + x %}" * 30 + "{{ x }}",
    "set block": "{% set x %}aaaaaaaaaa{% endset %}" + "{% set x %}{{ x }}{{ x }}{% endset %}" * 15,
    "nested loops": "{% for a in 'x' * 99 %}{% for b in 'y' * 99 %}{{ first_name }}"
    "{% endfor %}{% endfor %}",
    "loops over a literal": "{% for a in 'aaaaaaaaaaaaaaaaaaaa' %}{% for b in "
    "'aaaaaaaaaaaaaaaaaaaa' %}{% for c in 'aaaaaaaaaaaaaaaaaaaa' %}{{ first_name }}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "string times a number": "{{ 'x' * 1000000000 }}",
    "power": "{{ 'x' * 10 ** 9 }}",
    "join of a repeated list": "{{ ['aaaaaaaaaa'] * 100000000 | join }}",
    "join": "{{ first_name|join(first_name) }}",
    "replace with an empty needle": "{{ first_name|replace('', first_name)|replace('', "
    "first_name)|replace('', first_name) }}",
    "center": "{{ first_name|center(2000000000) }}",
    "format": "{{ '%2000000000d'|format(1) }}",
    "wordwrap": "{{ first_name|wordwrap(1, wrapstring=first_name * 99) }}",
    "a method call": "{{ first_name.ljust(2000000000) }}",
    "filter block": "{% filter upper %}{{ first_name }}{% endfilter %}",
    "macro": "{% macro m(n) %}{{ m(n ~ n) }}{% endmacro %}{{ m('a') }}",
    "range": "{{ range(1000000000)|list }}",
    "many fields, each at its longest": "{{ business_name }}" * 30,
    "concatenation of the longest fields": "{{ (first_name ~ business_name ~ staff_name) "
    "|upper|upper|upper }}" * 3,
    "nested brackets": "{{ " + "(" * 300 + "first_name" + ")" * 300 + " }}",
    "with": "{% with x = first_name ~ first_name %}{{ x }}{% endwith %}",
    "list literal": "{{ [first_name, first_name] }}",
    "dict literal": "{{ {'a': first_name} }}",
    "include": "{% include 'base.html' %}",
}


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@pytest.mark.parametrize("name", ATTACKS)
def test_a_text_that_could_grow_without_bound_is_refused_before_it_runs(name):
    source = ATTACKS[name]
    assert len(source) <= texts.MAX_TEMPLATE_CHARS, len(source)
    with pytest.raises(texts.TemplateError):
        texts.validate_source("thank_you", source)


def test_the_attacks_saved_through_the_api_are_422_and_memory_stays_flat(client, auth, engine):
    client.put("/api/v1/templates/thank_you", json={"body": "Hi {{ first_name }}!"}, headers=auth)
    rss_before = max_rss_mb()
    tracemalloc.start()
    try:
        for name, source in ATTACKS.items():
            response = client.put(
                "/api/v1/templates/thank_you", json={"body": source}, headers=auth
            )
            assert response.status_code == 422, (name, response.json)
            assert response.json["error"]["code"] == "invalid_template"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"{peak / 1024 / 1024:.1f} MB traced while the attacks ran"
    assert max_rss_mb() - rss_before < 32  # the doubling alone would take 10 GB
    [saved] = client.get("/api/v1/templates", headers=auth).json["items"][:1]
    assert saved["kind"] == "thank_you" and saved["body"] == "Hi {{ first_name }}!"


def test_the_texts_page_refuses_them_with_the_reason(client, business, engine):
    sign_in(client)
    tracemalloc.start()
    try:
        for name in ("set doubling with ~", "nested loops", "string times a number", "join"):
            response = post(
                client, "/templates/thank_you", {"source": ATTACKS[name], "action": "save"}
            )
            assert response.status_code == 422, name
            page = response.get_data(as_text=True)
            assert "flash-error" in page or "error" in page
        preview = post(client, "/templates/thank_you/preview", {"source": DOUBLE})
        assert preview.get_json()["ok"] is False and "{% set %}" in preview.get_json()["error"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert count(engine, BusinessTemplate) == 0


def test_a_text_that_could_pass_the_limit_says_how_long_it_could_be(client, auth):
    response = client.put(
        "/api/v1/templates/thank_you",
        json={"body": ATTACKS["many fields, each at its longest"]},
        headers=auth,
    )
    assert response.status_code == 422
    assert "could be 3600 characters" in response.json["error"]["message"]
    assert "at most 1600" in response.json["error"]["message"]


def test_texts_that_use_what_a_text_needs_are_still_saved(client, auth):
    source = (
        "{% if first_name is defined and first_name %}Hi {{ first_name|title }}{% else %}Hello"
        "{% endif %}, thanks for visiting {{ business_name ~ '!' }}"
        "{{ ' You saw ' ~ staff_name ~ '.' if staff_name else '' }}"
        "{% if staff_name == 'Ana' %} Ana says hi.{% elif not staff_name %} See you!{% endif %}"
        " {{ first_name|default('friend', true)|trim|upper }}"
    )
    response = client.put("/api/v1/templates/thank_you", json={"body": source}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["preview"] == (
        "Hi Christopher, thanks for visiting Bloom Hair Studio! You saw Alexandra. CHRISTOPHER"
    )


def test_a_stored_attack_is_never_rendered_at_send_time(client, auth, session, business, engine):
    # A copy saved before these checks existed (or written straight to the database).
    session.add(BusinessTemplate(business_id=business.id, kind="thank_you", body=DOUBLE))
    session.commit()
    tracemalloc.start()
    try:
        response = client.post(
            "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "name": "Maria Lopez",
                                    "consent": True}, headers=auth,
        )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.json
    thank_you = response.json["planned"][0]
    assert thank_you["kind"] == "thank_you"
    assert thank_you["body"].startswith("Hi Maria, thank you for visiting Bloom Hair Studio")
    assert peak < 8 * 1024 * 1024
    assert count(engine, Message) >= 1


@pytest.mark.parametrize("name", ["set doubling with ~", "join", "macro", "nested brackets"])
def test_rendering_checks_the_text_before_it_runs(name):
    with pytest.raises(texts.UnsafeTemplate):
        texts.render_text(ATTACKS[name], {"first_name": "Sam", "business_name": "Bloom"})


def test_rendering_stops_at_the_size_limit():
    # Typed texts are not refused for what they could be, only for what they are.
    source = "{{ first_name }}" * 100
    assert len(texts.render_text(source, {"first_name": "Sam"})) == 300
    with pytest.raises(texts.TooLong):
        texts.render_text(source, {"first_name": "Christopher"}, limit=1000)
