"""Photos in a reply (MMS): checked by their bytes, re-encoded without their metadata, kept in
the database and served to the carrier at an unguessable URL on the app's own domain.

Twilio fetches a text's `MediaUrl` itself, without signing in, so the URL is the only secret:
a 256-bit random token, and nothing lists them. The bytes live in the database (not a
directory) so that every web process can serve any photo.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, ImageOps
from sqlmodel import Session, col, select

from app.errors import Invalid
from app.models import Business, Customer, Photo

MAX_PHOTO_BYTES = 5 * 1024 * 1024  # Twilio's limit for JPEG, PNG and GIF
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; more is a trap (a "decompression bomb")
LONGEST_SIDE = 2048  # larger photos are scaled down: phones show them smaller anyway
JPEG_QUALITY = 85
# What a file's first bytes say it is, whatever its name: the only kinds Twilio formats for
# every phone (others are limited to 500 KB and may not show).
SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
KINDS_IN_WORDS = "a JPEG, PNG or GIF photo"
MEDIA_PATH = "/media/"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo ready to store: re-encoded, without location or other metadata."""

    content_type: str
    data: bytes
    width: int
    height: int


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def kind_of(data: bytes) -> str | None:
    """JPEG, PNG or GIF by the file's own first bytes; None for anything else."""
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def prepare(data: bytes) -> PreparedPhoto:
    """Check an uploaded photo and re-encode it: turned upright, scaled to LONGEST_SIDE at
    most, and saved without EXIF (no location, no camera details). Raises Invalid("photo")
    with a reason for the owner."""
    if not data:
        raise Invalid("photo", "The photo is empty: choose it again.")
    if len(data) > MAX_PHOTO_BYTES:
        raise Invalid("photo", f"The photo is {_megabytes(len(data))}: photos can be at most "
                               f"{_megabytes(MAX_PHOTO_BYTES)}.")  # fmt: skip
    kind = kind_of(data)
    if kind is None:
        raise Invalid("photo", f"That file is not {KINDS_IN_WORDS}, whatever its name says.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format != kind:
                raise ValueError(f"{image.format} inside a {kind} header")
            if image.width * image.height > MAX_PIXELS:
                raise Invalid("photo", "That photo has too many pixels: 40 megapixels at most.")
            image.load()
            frames = getattr(image, "n_frames", 1)
            out = io.BytesIO()
            if kind == "GIF":
                # An animation keeps its frames (GIFs carry no location); it is not scaled.
                image.save(out, "GIF", save_all=frames > 1)
                width, height = image.size
            else:
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
                if kind == "JPEG":
                    if upright.mode not in ("RGB", "L"):
                        upright = upright.convert("RGB")
                    upright.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
                else:
                    upright.save(out, "PNG", optimize=True)
                width, height = upright.size
    except Invalid:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged or hostile file
        raise Invalid("photo", "That photo could not be read: it may be damaged. Try another "
                               "one.") from exc  # fmt: skip
    encoded = out.getvalue()
    if len(encoded) > MAX_PHOTO_BYTES:
        raise Invalid("photo", f"The photo is {_megabytes(len(encoded))} once prepared: photos "
                               f"can be at most {_megabytes(MAX_PHOTO_BYTES)}.")  # fmt: skip
    return PreparedPhoto(CONTENT_TYPES[kind], encoded, width, height)


def new_photo(business: Business, customer: Customer, photo: PreparedPhoto) -> Photo:
    """A row for a prepared photo with its own unguessable token (not added to a session)."""
    return Photo(
        token=secrets.token_urlsafe(32),
        business_id=business.id,
        customer_id=customer.id,
        content_type=photo.content_type,
        size=len(photo.data),
        width=photo.width,
        height=photo.height,
        data=photo.data,
    )


def media_item(photo: Photo, base_url: str) -> dict[str, str]:
    """The photo as a text's media: its public URL (what the carrier fetches) and its type."""
    return {"url": f"{base_url.rstrip('/')}{MEDIA_PATH}{photo.token}",
            "content_type": photo.content_type}  # fmt: skip


def find(session: Session, token: str) -> Photo | None:
    """The photo with this token; None for any other string (nothing is listed or guessed)."""
    if not TOKEN.fullmatch(token):
        return None
    return session.exec(select(Photo).where(col(Photo.token) == token)).first()


def own_path(url: str) -> str | None:
    """The path of one of our photos' URLs ("/media/<token>"), for pages on this app to show it
    from their own origin; None for any other URL (a customer's photo on Twilio)."""
    path = urlsplit(url).path
    if path.startswith(MEDIA_PATH) and TOKEN.fullmatch(path[len(MEDIA_PATH) :]):
        return path
    return None
