"""The owner's app in a real phone-sized browser: sign in, read the inbox (new texts arrive
without a reload), reply and see the text reach the simulated phone, record a visit, import
a CSV with a bad row, edit a text, create and revoke an API key. Every page is screenshotted
to artifacts/screenshots/ and audited (tap targets, labels, contrast, width)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from app.care import composer
from app.care.outbound import introduce
from app.models import Business, Customer
from app.sms.encoding import segment_info
from app.web.owner import encoding_note
from tests.conftest import DAYTIME
from tests.e2e.audit import audit
from tests.e2e.conftest import (
    MARIA,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    SCREENSHOTS,
    WAIT_MS,
    phone_context,
)

pytestmark = pytest.mark.usefixtures("live_server")


def shoot(page, name: str) -> None:
    """Screenshot the page as it is and fail on anything a phone user would trip over."""
    page.wait_for_load_state("load")
    problems = audit(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert problems == [], f"{name}: {problems}"


def sign_in(page, email=OWNER_EMAIL, password=OWNER_PASSWORD):
    page.goto(page.base + "/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_read_the_inbox(page):
    page.goto(page.base + "/")
    shoot(page, "00-front-page")
    sign_in(page, password="not the password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    shoot(page, "01-sign-in-error")
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/inbox$"))
    rows = page.locator(".conversations li")
    expect(rows.first).to_contain_text("Maria Lopez")  # newest activity first
    expect(rows.first).to_contain_text("Can I book with Ana again")
    expect(rows.first.locator(".badge.count")).to_have_text("1 new")
    expect(page.locator(".conversations")).to_contain_text("anything open Saturday")
    shoot(page, "02-inbox")
    page.get_by_role("link", name="Needs reply", exact=True).click()
    expect(page.locator(".conversations li")).to_have_count(2)
    page.get_by_label("Search conversations by name or phone").fill("priya")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".conversations li")).to_have_count(0)  # Priya has no name yet
    page.goto(page.base + "/inbox?q=312555")
    expect(page.locator(".conversations li")).to_have_count(1)


def test_new_texts_appear_in_the_inbox_without_a_reload(page):
    sign_in(page)
    expect(page.locator(".conversations")).to_be_visible()
    phone = page.context.new_page()
    try:
        phone.goto(page.base + "/simulator/")
        phone.get_by_label("This phone's number").fill("+1 (646) 555-0177")
        phone.get_by_label("Text", exact=True).fill("Are you open on Monday? <b>thanks</b>")
        phone.get_by_role("button", name="Send").click()
        expect(phone.locator(".bubble.mine").last).to_contain_text("Are you open on Monday?")
    finally:
        phone.close()
    first = page.locator(".conversations li").first
    expect(first).to_contain_text("(646) 555-0177", timeout=WAIT_MS)  # as the owner writes it
    expect(first).to_contain_text("Are you open on Monday? <b>thanks</b>")  # text, not HTML
    expect(first.locator(".badge.count")).to_have_text("1 new")


def what_maria_receives(live_server, body: str) -> str:
    """The server's own answer: the first text to a customer names the business and STOP."""
    with Session(live_server["services"].engine) as session:
        business = session.exec(select(Business)).first()
        maria = session.exec(select(Customer).where(Customer.phone == MARIA)).one()
        return introduce(body, business, maria)


def test_reply_in_a_conversation_and_see_it_reach_the_simulated_phone(page, live_server):
    sign_in(page)
    page.locator(".conversations a", has_text="Maria Lopez").click()
    expect(page.get_by_role("heading", name="Maria Lopez")).to_be_visible()
    expect(page.locator("#thread")).to_contain_text("Can I book with Ana again next month?")
    expect(page.locator("#thread")).to_contain_text("Scheduled for")  # the planned thank-you
    page.locator("summary", has_text="About Maria").click()
    expect(page.locator("#about")).to_contain_text("with Ana")
    shoot(page, "03-conversation")
    page.locator("summary", has_text="About Maria").click()
    body = page.get_by_label("Text to Maria")
    body.fill("Hi {{ first_name }}! Ana has Tuesday at 10 free, shall I book it? 💇")
    expected = what_maria_receives(
        live_server, "Hi Maria! Ana has Tuesday at 10 free, shall I book it? 💇"
    )
    expect(page.locator("[data-preview-text]")).to_have_text(expected)
    info = segment_info(expected)
    plural = "s" if info.segments != 1 else ""
    counter = f"{len(expected)} characters · {info.segments} text{plural}" + encoding_note(
        info.encoding
    )
    expect(page.locator("#counter")).to_have_text(counter)
    shoot(page, "04-composer")
    page.locator("form[data-composer] button[type=submit]").click()
    mine = page.locator(".bubble.mine", has_text="Ana has Tuesday at 10 free")
    expect(mine).to_be_visible()
    expect(mine).to_contain_text("Delivered", timeout=WAIT_MS)  # live: the dispatcher sent it
    shoot(page, "05-conversation-delivered")
    page.goto(page.base + "/simulator/?handset=%2B12125550111")
    expect(page.locator(".bubble.theirs").last).to_contain_text("Hi Maria! Ana has Tuesday at 10")
    shoot(page, "06-simulated-phone")


def test_the_picker_sends_as_its_kind_and_the_preview_asks_the_server_when_it_must(
    page, live_server
):
    sign_in(page)
    page.locator(".conversations a", has_text="James Carter").click()
    expect(page.get_by_role("heading", name="James Carter")).to_be_visible()
    page.wait_for_load_state("load")  # the picker's script is wired
    page.get_by_label("Start from a saved text").select_option("thank_you")
    body = page.get_by_label("Text to James")
    expect(body).to_have_value(re.compile(r"^Hi James, thank you for visiting Bloom"))
    expect(page.locator("#kind-note")).to_contain_text("Sends as Thank-you after a visit")
    expect(page.locator("input[name=kind]")).to_have_value("thank_you")
    page.get_by_role("link", name="Send your own text instead").click()
    expect(page.locator("#kind-note")).to_be_hidden()
    expect(page.locator("input[name=kind]")).to_have_value("")
    # Filters are the sandbox's: the page asks the server, and shows its very answer.
    typed = "{% if first_name %}Hi {{ first_name|upper }}{% endif %}, your {{ name }} booking"
    body.fill(typed)
    expected = server_preview(live_server, "+12125550112", typed)
    expect(page.locator("[data-preview-text]")).to_have_text(expected)
    body.fill("Hi {{ nickname }}")
    expect(page.locator("[data-preview-text]")).to_contain_text(
        "There is no fill-in called nickname"
    )
    body.fill("Hi {{ first_name }}, see you soon")  # rendered on the page itself
    expect(page.locator("[data-preview-text]")).to_have_text(
        server_preview(live_server, "+12125550112", "Hi {{ first_name }}, see you soon")
    )


def server_preview(live_server, phone: str, body: str) -> str:
    with Session(live_server["services"].engine) as session:
        business = session.exec(select(Business)).first()
        customer = session.exec(select(Customer).where(Customer.phone == phone)).one()
        fields = composer.composer_fields(session, business, customer, None, now=DAYTIME,
                                          base_url=live_server["url"])  # fmt: skip
        introduce_as = "" if customer.introduced_at else business.name
        return composer.preview(body, fields, introduce_as=introduce_as)


def test_the_counter_counts_like_the_server(page):
    sign_in(page)
    page.locator(".conversations a", has_text="Maria Lopez").click()
    expect(page.get_by_role("heading", name="Maria Lopez")).to_be_visible()
    page.wait_for_function("window.Regulars !== undefined")
    samples = [
        "",
        "Hello",
        "a" * 160,
        "a" * 161,
        "€" * 80,
        "€" * 81,
        "😀" * 35,
        "😀" * 36,
        "é" * 200,
        "👍🏽" * 20,
        "🇺🇸" * 40,
        "e\u0301" * 70,
        "👨‍👩‍👧" * 10,
        "[" + "x" * 158,
        "{}" * 77,
        "Curly ’quotes’ " * 6,
        "line\nbreaks\r\n" * 20,
    ]
    counted = page.evaluate("(texts) => texts.map((t) => window.Regulars.segmentInfo(t))", samples)
    for text, js in zip(samples, counted, strict=True):
        server = segment_info(text)
        assert (js["encoding"], js["segments"], js["units"]) == (
            server.encoding,
            server.segments,
            server.units,
        ), text


def test_record_a_visit_and_see_the_planned_follow_ups(page):
    sign_in(page)
    page.get_by_role("link", name="Visit").first.click()
    expect(page.get_by_role("heading", name="Record a visit")).to_be_visible()
    shoot(page, "07-record-visit")
    page.get_by_label("Phone").fill("(212) 555-0188")
    page.get_by_label("First name").fill("Sam")
    page.get_by_label("They agreed to get texts from Bloom Hair Studio").check()
    page.get_by_label("Staff member").select_option("Ana")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_role("heading", name="Visit saved")).to_be_visible()
    planned = page.locator(".planned li")
    expect(planned.first).to_contain_text("Thank-you after a visit")
    expect(planned.first).to_contain_text("Hi Sam, thank you for visiting Bloom Hair Studio")
    expect(planned.first).to_contain_text("Scheduled for")
    shoot(page, "08-visit-saved")
    page.get_by_role("link", name="Record another visit").click()
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save visit").click()
    expect(page.locator("#f-phone-error")).to_contain_text("Check the number")
    shoot(page, "09-record-visit-error")


def test_import_a_csv_with_a_bad_row_then_a_good_one(page, tmp_path):
    bad = tmp_path / "customers.csv"
    bad.write_text(
        "phone,name,email,tags,consent\n"
        "+12125550301,Nora North,nora@example.com,vip,yes\n"
        "555,Bad Number,,,yes\n"
        "+12125550303,Omar Ortiz,,,perhaps\n"
    )
    good = tmp_path / "fixed.csv"
    good.write_text(
        "phone,name,email,tags,consent\n"
        "+12125550301,Nora North,nora@example.com,vip,yes\n"
        "+12125550302,Paul Park,,,no\n"
        "+12125550303,Omar Ortiz,,regular,yes\n"
    )
    sign_in(page)
    page.get_by_role("link", name="Customers").click()
    shoot(page, "10-customers")
    page.get_by_role("link", name="Import from CSV").click()
    shoot(page, "11-import")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="2 rows to fix")).to_be_visible()
    expect(page.locator(".row-errors")).to_contain_text("Row 3:")
    expect(page.locator(".row-errors")).to_contain_text("Row 4: consent must be yes or no")
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    shoot(page, "12-import-errors")
    page.goto(page.base + "/customers/?q=Nora")
    expect(page.locator(".customers li")).to_have_count(0)  # nothing imported half-way
    page.goto(page.base + "/customers/import")
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Ready to import 3 customers")).to_be_visible()
    shoot(page, "13-import-preview")
    page.get_by_role("button", name="Import 3 customers").click()
    expect(page.get_by_role("status")).to_contain_text("Imported: 3 new, 0 updated.")
    page.get_by_label("Search customers by name, phone or email").fill("omar")
    page.get_by_role("button", name="Search").click()
    page.locator(".customers a", has_text="Omar Ortiz").click()
    expect(page.get_by_label("Tags")).to_have_value("regular")
    expect(page.get_by_label("They agreed to get texts")).to_be_checked()
    shoot(page, "14-customer")


def test_edit_a_template_with_a_live_preview_then_reset_it(page):
    sign_in(page)
    page.get_by_role("link", name="Texts").click()
    shoot(page, "15-texts")
    page.locator(".link-card", has_text="Thank-you after a visit").click()
    source = page.get_by_label("Text", exact=True)
    source.fill("Thanks [First name or there]! See you soon at [Business name].")
    preview = page.locator("[data-template-preview]")
    regular = "Thanks Christopher! See you soon at Bloom Hair Studio."
    first = "Thanks Maria! See you soon at Bloom Hair Studio. Reply STOP to opt out."
    expect(preview).to_contain_text(regular)
    expect(preview).to_contain_text(first)  # a first text as it goes
    expect(preview).to_contain_text(f"{len(regular)} characters · 1 text")  # no encoding named
    source.fill("Thanks {{ request }}")
    expect(preview).to_contain_text("There is nothing called “request” to fill in.")
    shoot(page, "16-text-error")
    source.fill("Thanks [First name or there]! See you soon at [Business name].")
    # The live preview answers first: a preview answered after the save's redirect would
    # replace the session cookie that carries the "is saved" message.
    expect(preview).to_contain_text(regular)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("is saved")
    expect(page.locator(".badge", has_text="Your version")).to_be_visible()
    shoot(page, "17-text-saved")
    page.get_by_role("button", name="Reset to the default text").click()
    expect(page.locator(".badge", has_text="Default text")).to_be_visible()
    expect(source).to_have_value(re.compile(r"^Hi \[First name or there\], thank you"))


def api_status(base: str, key: str) -> int:
    request = urllib.request.Request(
        base + "/api/v1/business", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_create_and_revoke_an_api_key_and_visit_every_setting(page):
    sign_in(page)
    page.get_by_role("link", name="Settings").click()
    shoot(page, "18-settings")
    page.locator("summary", has_text="For developers").click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name for a new key").fill("Booking system")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("API key").input_value()
    assert key.startswith("rk_")
    shoot(page, "19-api-key-created")
    assert api_status(page.base, key) == 200
    page.get_by_role("link", name="Done").click()
    card = page.locator(".keys li", has_text="Booking system")
    expect(card).to_contain_text(key[:10])
    expect(page.locator("body")).not_to_contain_text(key)  # shown once only
    shoot(page, "20-api-keys")
    card.get_by_role("button", name="Revoke").click()
    expect(page.locator(".keys li", has_text="Booking system")).to_contain_text("Revoked")
    assert api_status(page.base, key) == 401
    page.goto(page.base + "/settings/team")
    page.get_by_label("Name", exact=True).fill("Ana Ruiz")
    page.get_by_label("Email").fill("ana@bloom.example")
    page.get_by_role("button", name="Create invite link").click()
    link = page.get_by_label("Sign-in link").input_value()
    assert "/invite/" in link
    shoot(page, "21-invite-link")
    page.goto(page.base + "/settings/team")
    expect(page.locator(".team")).to_contain_text("Ana Ruiz")
    shoot(page, "22-team")
    page.goto(page.base + "/account")
    shoot(page, "23-account")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto(link)
    page.get_by_label("New password").fill("ana's own password")
    page.get_by_label("The same password again").fill("ana's own password")
    shoot(page, "24-invite-accept")
    page.get_by_role("button", name="Save and sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.get_by_role("link", name="Account")).to_be_visible()  # staff: no settings
    assert page.goto(page.base + "/settings/").status == 403
    shoot(page, "25-staff-forbidden")


def test_core_forms_work_without_javascript(chromium, live_server):
    context = phone_context(chromium, java_script_enabled=False)
    try:
        page = context.new_page()
        page.base = live_server["url"]
        sign_in(page)
        expect(page).to_have_url(re.compile(r"/inbox$"))
        page.locator(".conversations a", has_text="James Carter").click()
        page.get_by_label("Start from a saved text").select_option("review_request")
        page.get_by_role("button", name="Use").click()  # without JS the picker is a form
        expect(page.get_by_label("Text to James")).to_have_value(re.compile(r"^Hi James, it was"))
        expect(page.locator("#kind-note")).to_contain_text("Sends as Review request")
        # Sent as a review request, it keeps that kind's rules: James's is already planned.
        page.locator("form[data-composer] button[type=submit]").click()
        expect(page.get_by_role("alert")).to_contain_text("already has a review request planned")
        page.get_by_role("link", name="Send your own text instead").click()
        expect(page.locator("#kind-note")).to_be_hidden()
        page.get_by_label("Text to James").fill("No-script reply, {{ first_name }}")
        page.locator("form[data-composer] button[type=submit]").click()
        expect(page.locator(".bubble.mine", has_text="No-script reply, James")).to_be_visible()
        page.goto(page.base + "/visits/new")
        page.get_by_label("Phone").fill("2125550199")
        page.get_by_label("First name").fill("Quinn")
        page.get_by_role("button", name="Save visit").click()
        expect(page.get_by_role("heading", name="Visit saved")).to_be_visible()
        page.goto(page.base + "/templates/thank_you")
        page.get_by_label("Text", exact=True).fill("Cheers [First name]!")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("[data-template-preview]")).to_contain_text("Cheers Christopher!")
        # Without JavaScript the gap warning and its fix are forms too.
        expect(page.locator("[data-gap-warning]")).to_contain_text("“Cheers !”")
        page.get_by_role("button", name="Say “there” when there is no first name").click()
        expect(page.get_by_label("Text", exact=True)).to_have_value("Cheers [First name or there]!")
        shoot(page, "26-no-javascript-preview")
    finally:
        context.close()


def test_the_app_installs_and_its_shell_works_offline(page):
    sign_in(page)
    page.wait_for_url("**/inbox")
    state = page.evaluate(
        "navigator.serviceWorker.ready.then((r) => r.active && r.active.scriptURL)"
    )
    assert state.endswith("/sw.js")
    manifest = page.evaluate("document.querySelector('link[rel=manifest]').href")
    assert manifest.endswith("/static/manifest.webmanifest")
    page.reload()  # the worker now controls the page
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    try:
        page.goto(page.base + "/customers/")
        expect(page.get_by_role("heading", name="No connection")).to_be_visible()
        assert "Maria" not in page.content()  # no customer's page is kept on the phone
        shoot(page, "30-offline")
    finally:
        page.context.set_offline(False)
