"""A photo is checked by its bytes and re-encoded: upright, at most 2048 px on its longest
side, without EXIF; animations keep their frames; hostile files are refused with a reason."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from app.care import photos
from app.errors import Invalid


def encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def test_a_sideways_jpeg_is_turned_upright_and_loses_its_exif():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show it rotated 90 degrees
    exif[ExifTags.Base.Model] = "PhoneCo 12"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N",
                                  ExifTags.GPS.GPSLatitude: (40.0, 44.0, 30.0)}  # fmt: skip
    prepared = photos.prepare(encoded(Image.new("RGB", (80, 40), "red"), "JPEG", exif=exif))
    image = Image.open(io.BytesIO(prepared.data))
    assert (prepared.width, prepared.height) == image.size == (40, 80)
    assert prepared.content_type == "image/jpeg" and dict(image.getexif()) == {}


def test_a_png_loses_its_text_and_exif_and_a_huge_one_is_scaled_down():
    source = encoded(Image.new("RGB", (4096, 1024), "blue"), "PNG",
                     exif=Image.Exif(), pnginfo=_png_text("Location", "40.7,-74.0"))  # fmt: skip
    prepared = photos.prepare(source)
    image = Image.open(io.BytesIO(prepared.data))
    assert image.size == (2048, 512) and prepared.content_type == "image/png"
    assert "Location" not in image.info


def _png_text(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info


def test_an_animated_gif_keeps_its_frames():
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "green", "blue")]
    source = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    prepared = photos.prepare(source)
    assert prepared.content_type == "image/gif"
    assert Image.open(io.BytesIO(prepared.data)).n_frames == 3


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 not a photo", "not a JPEG, PNG or GIF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a JPEG, PNG or GIF"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage", "could not be read"),
        # a GIF header on a PNG: what the bytes say must agree with what Pillow reads
        (b"GIF89a" + encoded(Image.new("RGB", (4, 4)), "PNG")[6:], "could not be read"),
    ],
)
def test_what_is_no_usable_photo_is_refused_with_a_reason(data, words):
    with pytest.raises(Invalid) as refused:
        photos.prepare(data)
    assert refused.value.field == "photo" and words in refused.value.message


def test_too_many_pixels_is_refused_before_they_are_decoded():
    # 8000 x 8000 of one colour compresses to almost nothing: a "decompression bomb".
    with pytest.raises(Invalid, match="too many pixels"):
        photos.prepare(encoded(Image.new("1", (8000, 8000)), "PNG"))


def test_only_our_own_photo_urls_have_a_path_on_this_app():
    token = "A" * 43
    assert photos.own_path(f"https://regulars.test/media/{token}") == f"/media/{token}"
    assert photos.own_path("https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1") is None
    assert photos.own_path(f"https://regulars.test/media/{token}/x") is None
