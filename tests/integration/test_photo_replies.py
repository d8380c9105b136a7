"""A photo in a reply (MMS): the owner attaches one in the composer; it is checked by its
bytes, stored without its location, served at an unguessable URL on the app's own domain,
and that URL goes to Twilio as the text's MediaUrl. A customer's photo shows in the thread."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs

import pytest
import responses
from PIL import ExifTags, Image
from sqlmodel import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.care.photos import MAX_PHOTO_BYTES
from app.models import Customer, Message, Photo
from tests.conftest import (
    ACCOUNT_SID,
    CUSTOMER_PHONE,
    PUBLIC_BASE,
    TWILIO_BASE,
    inbound_form,
    post_signed,
)
from tests.integration.test_care_stories import Story
from tests.integration.test_owner_helpers import OVERRIDES, other_business, sign_in, token_for

MEDIA_URL = re.compile(rf"{re.escape(PUBLIC_BASE)}/media/([A-Za-z0-9_-]{{43}})")
THEIR_MEDIA = (
    f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"  # noqa: E501
)


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def jpeg_with_location(size=(64, 48)) -> bytes:
    """A small JPEG carrying a camera make and a GPS position, as a phone writes them."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (40.0, 44.0, 30.0),
    }
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 120)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def send_with_photo(client, customer_id: int, photo: bytes | None, *, name="chair.jpg",
                    body="Here is your new color", path=None, kind=""):  # fmt: skip
    """The composer's form with a photo, as a browser posts it (multipart)."""
    token = token_for(client, f"/conversations/{customer_id}" if path is None else "/account")
    values: dict = {"csrf_token": token, "body": body, "kind": kind}
    if photo is not None:
        values["photo"] = FileStorage(io.BytesIO(photo), filename=name)
    # Encoded in memory: the test client's own encoding leaves a temporary file open.
    boundary, data = encode_multipart(values)
    return client.post(path or f"/conversations/{customer_id}/send", data=data,
                       content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip


def twilio_posts(twilio) -> list[dict[str, list[str]]]:
    """Every CreateMessage form sent to Twilio, with repeated names (MediaUrl) kept."""
    forms = []
    for call in twilio.calls:
        if call.request.method == "POST" and call.request.url.endswith("/Messages.json"):
            body = call.request.body
            forms.append(parse_qs(body if isinstance(body, str) else body.decode(), True))
    return forms


def photos(session) -> list[Photo]:
    rows = list(session.exec(select(Photo)))
    session.commit()  # on SQLite a read holds the write lock until its transaction ends
    return rows


def test_a_photo_goes_to_twilio_as_a_media_url_that_the_app_serves(owner, story: Story,
                                                                     session, client):  # fmt: skip
    story.visit()
    customer = story.customer()
    sent = send_with_photo(owner, customer.id, jpeg_with_location())
    assert sent.status_code == 302
    [message] = session.exec(select(Message).where(Message.body.contains("new color"))).all()
    [item] = message.media_urls
    token = MEDIA_URL.fullmatch(item["url"])[1]  # on the app's public origin
    assert item["content_type"] == "image/jpeg" and message.segments == 1
    session.commit()

    story.run()
    [form] = [f for f in twilio_posts(story.twilio) if "new color" in f["Body"][0]]
    assert form["MediaUrl"] == [item["url"]] and form["To"] == [CUSTOMER_PHONE]

    # Twilio fetches it without signing in: the bytes, their type, kept by caches privately.
    fetched = owner.application.test_client().get(f"/media/{token}")
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert "private" in fetched.headers["Cache-Control"]
    assert fetched.data == photos(session)[0].data
    served = Image.open(io.BytesIO(fetched.data))
    assert served.format == "JPEG" and served.size == (64, 48)
    exif = served.getexif()
    assert ExifTags.IFD.GPSInfo not in exif and ExifTags.Base.Make not in exif  # no location

    # The owner's thread shows it from the page's own origin, tap to open full size.
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert f'<a href="/media/{token}" target="_blank"' in page
    assert f'<img src="/media/{token}"' in page
    assert "picture message (MMS)" in page  # the composer says what a photo costs
    inbox = owner.get("/inbox").get_data(as_text=True)
    assert "Photo · " in inbox


def test_a_guessed_or_other_token_finds_nothing(owner, story: Story, session, client):
    story.visit()
    customer = story.customer()
    assert send_with_photo(owner, customer.id, png(), name="color.png").status_code == 302
    [photo] = photos(session)
    assert client.get(f"/media/{photo.token}").status_code == 200
    guessed = photo.token[:-1] + ("A" if photo.token[-1] != "A" else "B")
    for path in (f"/media/{guessed}", "/media/", "/media", f"/media/{photo.token}x",
                 f"/media/{photo.id}", "/media/..%2Fsign-in"):  # fmt: skip
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    ("photo", "name", "words"),
    [
        (b"\xff\xd8\xff" + b"\0" * MAX_PHOTO_BYTES, "big.jpg", "photos can be at most 5.0 MB"),
        (b"<!doctype html><script>alert(1)</script>", "cat.jpg", "is not a JPEG, PNG or GIF"),
        (b"GIF89a" + b"not really a picture", "cat.gif", "could not be read"),
        (b"", "empty.jpg", "The photo is empty"),
    ],
    ids=["too-big", "html-named-jpg", "damaged", "empty"],
)
def test_a_photo_that_is_too_big_or_no_photo_is_refused_and_nothing_is_saved(
    owner, story: Story, session, photo, name, words
):
    story.visit()
    customer = story.customer()
    refused = send_with_photo(owner, customer.id, photo, name=name)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert words in page and 'id="composer-error"' in page
    assert "Here is your new color" in page  # what the owner typed is kept
    session.commit()
    assert session.exec(select(Message).where(Message.body.contains("new color"))).all() == []
    assert photos(session) == []


def test_a_file_far_over_the_limit_is_stopped_before_it_is_read(owner, story: Story, session):
    story.visit()
    customer = story.customer()
    refused = send_with_photo(owner, customer.id, b"\xff\xd8\xff" + b"\0" * (3 * MAX_PHOTO_BYTES))
    assert refused.status_code == 413
    assert "a photo can be at most 5 MB" in refused.get_data(as_text=True)
    assert photos(session) == []
    assert session.exec(select(Message).where(Message.body.contains("new color"))).all() == []


def test_another_business_cannot_attach_a_photo_to_a_conversation_not_theirs(
    client, story: Story, session, clock
):
    story.visit()
    customer = story.customer()
    other_business(session, clock)
    sign_in(client, "owner@garage.test", "garage owner password")
    refused = send_with_photo(client, customer.id, png(), name="x.png", body="Hi",
                              path=f"/conversations/{customer.id}/send")  # fmt: skip
    assert refused.status_code == 404
    assert photos(session) == []
    assert session.exec(select(Message).where(Message.body == "Hi")).all() == []


def test_a_photo_alone_goes_and_a_first_text_still_names_the_business(owner, story: Story,
                                                                       session):  # fmt: skip
    story.visit()  # the thank-you waits for its delay: the photo is the first text
    customer = story.customer()
    assert send_with_photo(owner, customer.id, png(), name="color.png", body="").status_code == 302
    story.run()
    [form] = [f for f in twilio_posts(story.twilio) if "MediaUrl" in f]
    assert MEDIA_URL.fullmatch(form["MediaUrl"][0])
    assert form["Body"] == ["Bloom Hair Studio: Reply STOP to opt out."]
    # Once introduced, a photo goes with no words at all.
    assert send_with_photo(owner, customer.id, png(), name="color.png", body="").status_code == 302
    story.run()
    last = twilio_posts(story.twilio)[-1]
    assert MEDIA_URL.fullmatch(last["MediaUrl"][0]) and last["Body"] == [""]


def test_a_saved_text_with_a_photo_keeps_its_kind_and_its_rules(owner, story: Story, session):
    story.visit()
    customer = story.customer()
    sent = send_with_photo(owner, customer.id, png(), name="color.png", kind="thank_you",
                           body="Thanks for coming in, {{ first_name }}!")  # fmt: skip
    assert sent.status_code == 302
    [message] = session.exec(
        select(Message).where(Message.body.contains("Thanks for coming"))
    ).all()
    session.commit()
    assert message.kind == "thank_you" and MEDIA_URL.fullmatch(message.media_urls[0]["url"])
    [photo] = photos(session)
    assert photo.message_id == message.id and photo.customer_id == customer.id


def test_an_opted_out_customer_gets_no_photo_either(owner, story: Story, session):
    story.visit()
    customer = story.customer()
    story.reply("STOP")
    refused = send_with_photo(owner, customer.id, png(), name="color.png")
    assert refused.status_code == 409
    assert photos(session) == []


def test_a_photo_from_the_customer_shows_in_the_thread_and_opens(owner, story: Story, session,
                                                                 client, clock):  # fmt: skip
    form = inbound_form("Like this one?", sid="SM" + "9" * 32)
    form.update(NumMedia="1", MediaUrl0=THEIR_MEDIA, MediaContentType0="image/jpeg")
    assert post_signed(client, "/webhooks/twilio/sms", form).status_code == 200
    customer = session.exec(select(Customer).where(Customer.phone == CUSTOMER_PHONE)).one()
    [message] = session.exec(select(Message).where(Message.customer_id == customer.id)).all()
    session.commit()
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    shown = f"/conversations/{customer.id}/messages/{message.id}/media/0"
    assert f'<img src="{shown}"' in page and "Like this one?" in page
    assert "Photo · Like this one?" in owner.get("/inbox").get_data(as_text=True)

    # Twilio's media URL needs the account's credentials: the app fetches it for the owner.
    picture = jpeg_with_location()
    story.twilio.add(responses.GET, THEIR_MEDIA, body=picture, content_type="image/jpeg")
    opened = owner.get(shown)
    assert opened.status_code == 200 and opened.data == picture
    assert opened.headers["Content-Type"] == "image/jpeg"
    [fetch] = [c for c in story.twilio.calls if c.request.method == "GET"]
    assert fetch.request.headers["Authorization"].startswith("Basic ")
    assert owner.get(shown[:-1] + "1").status_code == 404  # there is no second one

    # Nobody else: signed out, or another business's owner.
    other_business(session, clock)
    stranger = owner.application.test_client()
    assert stranger.get(shown).status_code == 302  # to the sign-in page
    sign_in(stranger, "owner@garage.test", "garage owner password")
    assert stranger.get(shown).status_code == 404


def test_a_customer_attachment_that_is_no_picture_is_only_linked(owner, story: Story, session,
                                                                client):  # fmt: skip
    form = inbound_form("", sid="SM" + "8" * 32)
    form.update(NumMedia="1", MediaUrl0=THEIR_MEDIA, MediaContentType0="text/vcard")
    assert post_signed(client, "/webhooks/twilio/sms", form).status_code == 200
    customer = session.exec(select(Customer).where(Customer.phone == CUSTOMER_PHONE)).one()
    session.commit()
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "Attachment (text/vcard): open in Twilio" in page
    assert "/media/0" not in page
