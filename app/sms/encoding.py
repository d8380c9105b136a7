"""How many SMS segments a text takes, counted the way carriers count them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each takes an escape septet plus itself.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    per_segment: int  # capacity of each segment at this length


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _joins_previous(ch: str, prev: str) -> bool:
    """True when `ch` continues the grapheme cluster `prev` belongs to (UAX 29, simplified)."""
    cp = ord(ch)
    if unicodedata.category(ch) in {"Mn", "Me", "Mc"}:
        return True  # combining marks (accents, enclosing keycap U+20E3)
    if 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True  # variation selectors, skin tones, tag sequences (subdivision flags)
    return cp == 0x200D or prev == "\u200d"  # a zero-width joiner and the emoji it joins


def _clusters(text: str, size) -> list[int]:
    """Unit sizes of the text's grapheme clusters: what a reader sees as one character."""
    sizes: list[int] = []
    prev, regional = "", 0
    for ch in text:
        is_regional = 0x1F1E6 <= ord(ch) <= 0x1F1FF
        if sizes and (_joins_previous(ch, prev) or (is_regional and regional % 2 == 1)):
            sizes[-1] += size(ch)
        else:
            sizes.append(size(ch))
        regional = regional + 1 if is_regional else 0
        prev = ch
    return sizes


def _pack(unit_sizes: list[int], capacity: int) -> int:
    """Greedy split that never breaks an escape pair or a grapheme cluster across segments."""
    segments, used = 1, 0
    for size in unit_sizes:
        if used + size > capacity:
            segments += 1
            used = 0
        used += size
    return segments


def segment_info(text: str) -> SegmentInfo:
    """Encoding and segment count of `text` as a single SMS would carry it."""
    if is_gsm7(text):
        sizes = [2 if ch in GSM7_EXTENDED else 1 for ch in text]
        encoding: Encoding = "GSM-7"
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        sizes = _clusters(text, lambda ch: 2 if ord(ch) > 0xFFFF else 1)
        encoding = "UCS-2"
        single, part = UCS2_SINGLE, UCS2_PART
    units = sum(sizes)
    if units <= single:
        return SegmentInfo(encoding, 1, units, single)
    return SegmentInfo(encoding, _pack(sizes, part), units, part)


# What one segment costs to send in the US: Twilio's list price for a long code (0.83 cents,
# 2025) and the carriers' pass-through fees (about 0.3 cents). An estimate, never a bill.
SEGMENT_PRICE_CENTS = 1.1


def cost_cents(text: str) -> float:
    """About what sending `text` once costs, in US cents: its segments at the list price."""
    return segment_info(text).segments * SEGMENT_PRICE_CENTS
