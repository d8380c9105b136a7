"""A photo in a reply, in a phone-sized browser: the owner attaches one in the composer (a file
that only pretends to be a photo is refused with the reason), sends it, sees it in the thread
and on the simulated phone. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.e2e.conftest import PRIYA, WAIT_MS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")


def a_photo(path) -> str:
    """A 600x400 picture with something to see in it."""
    image = Image.new("RGB", (600, 400), (250, 236, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((180, 60, 420, 300), fill=(196, 64, 112))
    draw.rectangle((0, 330, 600, 400), fill=(64, 96, 160))
    image.save(path, "JPEG")
    return str(path)


def test_attach_a_photo_send_it_and_see_it_in_the_thread_and_on_the_phone(page, tmp_path):
    sign_in(page)
    page.locator(".conversations a", has_text="(312)").first.click()  # Priya texted first
    expect(page.locator("#thread")).to_contain_text("anything open Saturday morning")

    # A web page renamed .jpg: the browser believes the name, the app reads the bytes.
    fake = tmp_path / "haircut.jpg"
    fake.write_text("<!doctype html><p>not a photo</p>")
    page.get_by_label("Text to").fill("Saturday 10:00 works. Here is the look we talked about")
    page.get_by_label("Photo").set_input_files(str(fake))
    page.locator("form[data-composer] button[type=submit]").click()
    expect(page.locator("#composer-error")).to_contain_text("is not a JPEG, PNG or GIF photo")
    shoot(page, "photo-01-refused")

    page.get_by_label("Photo").set_input_files(a_photo(tmp_path / "look.jpg"))
    expect(page.locator("[data-photo-preview]")).to_be_visible()
    expect(page.locator("#counter")).to_contain_text("1 picture message (MMS)")
    page.get_by_label("Photo").scroll_into_view_if_needed()
    shoot(page, "photo-02-attached")
    page.locator("form[data-composer] button[type=submit]").click()

    mine = page.locator(".bubble.mine", has_text="Here is the look we talked about")
    expect(mine).to_be_visible()
    thumb = mine.locator(".photo img")
    expect(thumb).to_be_visible()
    expect(mine).to_contain_text("Delivered", timeout=WAIT_MS)
    assert thumb.evaluate("img => img.naturalWidth") == 600  # the bytes arrived, upright
    src = thumb.get_attribute("src")
    served = page.request.get(page.base + src)
    assert served.ok and served.headers["content-type"] == "image/jpeg"
    mine.scroll_into_view_if_needed()
    shoot(page, "photo-03-thread")

    page.goto(page.base + "/simulator/?handset=" + PRIYA.replace("+", "%2B"))
    received = page.locator(".bubble.theirs", has_text="Here is the look").last
    expect(received.locator(".photo img")).to_be_visible()
    assert received.locator(".photo img").evaluate("img => img.naturalWidth") == 600
    received.scroll_into_view_if_needed()
    shoot(page, "photo-04-simulated-phone")
