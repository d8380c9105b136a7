"""GSM-7 / UCS-2 segment counting (app/sms/encoding.py).

Many cases come from Twilio's message-segment-calculator (TwilioDevEd/message-segment-calculator,
tests/index.test.js and tests/segments.test.js): the same bodies, the same expected encodings and
segment counts.
"""

from __future__ import annotations

import pytest

from app.sms.encoding import GSM7_EXTENDED, SegmentInfo, is_gsm7, segment_info

EXTENSION_CHARS = ["^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"]
EMOJI = "😜"  # U+1F61C: one code point, two UTF-16 code units (a surrogate pair)
FLAG_IT = "\U0001f1ee\U0001f1f9"  # two regional indicators
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"  # emoji + skin-tone modifier
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # white flag, VS16, ZWJ, rainbow


def digits(n: int, start: int = 1) -> str:
    """'1234567890123...' of length n, the filler Twilio's calculator tests use."""
    return "".join(str((start + i) % 10) for i in range(n))


# ---- whole-message counts: (text, encoding, segments, units) ---------------------------------

GSM_CASES = [
    pytest.param("", "GSM-7", 1, 0, id="empty"),
    pytest.param("a", "GSM-7", 1, 1, id="one-char"),
    pytest.param(digits(160), "GSM-7", 1, 160, id="twilio-160-gsm-one-segment"),
    pytest.param(digits(161), "GSM-7", 2, 161, id="twilio-161-gsm-two-segments"),
    pytest.param("a" * 306, "GSM-7", 2, 306, id="306-is-exactly-two-parts-of-153"),
    pytest.param(digits(307), "GSM-7", 3, 307, id="twilio-307-gsm-three-segments"),
    pytest.param("a" * 459, "GSM-7", 3, 459, id="459-is-exactly-three-parts"),
    pytest.param("a" * 460, "GSM-7", 4, 460, id="460-needs-a-fourth-part"),
    # Twilio: '{' + 158 more fills exactly 160 septets; one more char makes two segments.
    pytest.param("{" + digits(158, start=2), "GSM-7", 1, 160, id="twilio-escape-one-segment"),
    pytest.param("{" + digits(159, start=2), "GSM-7", 2, 161, id="twilio-escape-two-segments"),
    pytest.param("€" * 80, "GSM-7", 1, 160, id="80-euro-signs-fill-one-segment"),
    pytest.param("€" * 81, "GSM-7", 2, 162, id="81-euro-signs-spill"),
    pytest.param("a" * 159 + "^", "GSM-7", 2, 161, id="159-plus-caret-is-161-septets"),
    pytest.param("Line one\nLine two\r\nLine three", "GSM-7", 1, 29, id="cr-lf-are-basic"),
    pytest.param("Price: £5, ¥500, $5 @ Café Ñoño, Ä Ö Ü ß", "GSM-7", 1, 40, id="latin-in-gsm7"),
]

UCS2_CASES = [
    # Twilio: one emoji (2 code units) + 68 chars = 70 units, one segment; one more, two.
    pytest.param(EMOJI + digits(68, start=2), "UCS-2", 1, 70, id="twilio-ucs2-one-segment"),
    pytest.param(EMOJI + digits(69, start=2), "UCS-2", 2, 71, id="twilio-ucs2-two-segments"),
    # Twilio segments.test.js: emoji + 133 chars = 135 units = 67 + 67 + 1.
    pytest.param(EMOJI + digits(133, start=2), "UCS-2", 3, 135, id="twilio-ucs2-three-segments"),
    pytest.param("ç" * 70, "UCS-2", 1, 70, id="70-c-cedilla"),
    pytest.param("ç" * 71, "UCS-2", 2, 71, id="71-c-cedilla"),
    pytest.param("ç" + "a" * 133, "UCS-2", 2, 134, id="134-is-exactly-two-parts-of-67"),
    pytest.param("ç" + "a" * 134, "UCS-2", 3, 135, id="135-needs-a-third-part"),
    # Twilio issue 18: in UCS-2 the GSM extension characters are ordinary single units.
    pytest.param("😀" + "]" * 68, "UCS-2", 1, 70, id="twilio-ucs2-brackets-one-segment"),
    pytest.param("😀" + "]" * 69, "UCS-2", 2, 71, id="twilio-ucs2-brackets-two-segments"),
    # Twilio: a flag is two regional indicators, four UTF-16 units.
    pytest.param(FLAG_IT + digits(66, start=2), "UCS-2", 1, 70, id="twilio-flag-one-segment"),
    pytest.param(FLAG_IT + digits(67, start=2), "UCS-2", 2, 71, id="twilio-flag-two-segments"),
    # Twilio: rainbow flag = U+1F3F3 U+FE0F U+200D U+1F308 = 6 units.
    pytest.param(RAINBOW_FLAG + digits(64, start=2), "UCS-2", 1, 70, id="twilio-zwj-one-segment"),
    pytest.param(RAINBOW_FLAG + digits(65, start=2), "UCS-2", 2, 71, id="twilio-zwj-two-segments"),
    # Twilio: e + three combining acute accents is four units.
    pytest.param("e\u0301\u0301\u0301" + "a" * 66, "UCS-2", 1, 70, id="twilio-combining-one"),
    pytest.param("e\u0301\u0301\u0301" + "a" * 67, "UCS-2", 2, 71, id="twilio-combining-two"),
    pytest.param(EMOJI * 35, "UCS-2", 1, 70, id="35-emoji-fill-one-segment"),
    pytest.param(EMOJI * 36, "UCS-2", 2, 72, id="36-emoji-spill"),
]


@pytest.mark.parametrize(("text", "encoding", "segments", "units"), GSM_CASES + UCS2_CASES)
def test_segment_counts(text, encoding, segments, units):
    info = segment_info(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", SegmentInfo("GSM-7", 1, 0, 160), id="empty-gsm"),
        pytest.param("a" * 160, SegmentInfo("GSM-7", 1, 160, 160), id="single-gsm"),
        pytest.param("a" * 161, SegmentInfo("GSM-7", 2, 161, 153), id="multi-gsm"),
        pytest.param("ç" * 70, SegmentInfo("UCS-2", 1, 70, 70), id="single-ucs2"),
        pytest.param("ç" * 71, SegmentInfo("UCS-2", 2, 71, 67), id="multi-ucs2"),
    ],
)
def test_per_segment_capacity_drops_once_the_text_is_split(text, expected):
    assert segment_info(text) == expected


# ---- the GSM-7 extension table ----------------------------------------------------------------


def test_extension_table_is_exactly_the_ten_double_width_characters():
    assert set(GSM7_EXTENDED) == set(EXTENSION_CHARS)


@pytest.mark.parametrize("char", EXTENSION_CHARS, ids=repr)
def test_extension_character_counts_double(char):
    assert segment_info(char) == SegmentInfo("GSM-7", 1, 2, 160)
    # Twilio: the escape char plus 158 fills one segment; plus 159 needs two.
    assert segment_info(char + digits(158)).segments == 1
    assert segment_info(char + digits(159)).segments == 2


@pytest.mark.parametrize("char", EXTENSION_CHARS, ids=repr)
def test_extension_character_is_not_split_across_segments(char):
    # 152 septets, then an escape pair that would straddle 152|153: it moves whole to part two.
    # 306 septets in all (a naive ceil(306 / 153) says 2), but the split gives 152 + 153 + 1.
    text = "a" * 152 + char + "a" * 152
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 306, 3)


def test_extension_character_that_fits_before_the_boundary_stays():
    # 151 + 2 fills part one exactly; 153 more fill part two.
    text = "a" * 151 + "€" + "a" * 153
    assert segment_info(text) == SegmentInfo("GSM-7", 2, 306, 153)


# ---- UCS-2 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        "“",
        "”",
        "‘",
        "’",
        "…",
        "—",
        "ç",
        "á",
        "Á",
        "í",
        "ó",
        "ú",
        "ñ̃",
        "€uro ✓",
        "中",
        "😀",
        THUMBS_UP_MEDIUM,
    ],
)
def test_one_non_gsm_character_makes_the_whole_text_ucs2(char):
    text = "Thanks for visiting! " + char
    info = segment_info(text)
    assert info.encoding == "UCS-2"
    assert not is_gsm7(text)


def test_curly_quotes_force_ucs2_and_halve_the_capacity():
    straight = 'Thanks, it\'s "great" to see you. ' * 4  # 132 GSM-7 chars: one segment
    curly = straight.replace("'", "’").replace('"', "“", 1)
    assert segment_info(straight) == SegmentInfo("GSM-7", 1, 132, 160)
    assert segment_info(curly) == SegmentInfo("UCS-2", 2, 132, 67)


@pytest.mark.parametrize("emoji", ["😀", "🎉", "👍", "💈", "🛑"])
def test_emoji_is_two_utf16_units(emoji):
    assert segment_info(emoji) == SegmentInfo("UCS-2", 1, 2, 70)
    assert segment_info(emoji + "a" * 68).segments == 1
    assert segment_info(emoji + "a" * 69).segments == 2


def test_bmp_symbol_outside_gsm7_is_one_unit():
    assert segment_info("✓").units == 1
    assert segment_info("✓" * 70).segments == 1


def test_surrogate_pair_is_not_split_across_segments():
    # 66 units, then an emoji that would straddle 66|67: it moves whole to part two.
    # 134 units in all (a naive ceil(134 / 67) says 2), but the split gives 66 + 67 + 1.
    text = "ç" + "a" * 65 + EMOJI + "a" * 66
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments) == ("UCS-2", 134, 3)


def test_surrogate_pair_that_fits_before_the_boundary_stays():
    text = "ç" + "a" * 64 + EMOJI + "a" * 67  # 65 + 2 fills part one; 67 fill part two
    assert segment_info(text) == SegmentInfo("UCS-2", 2, 134, 67)


@pytest.mark.parametrize(
    ("cluster", "units"),
    [
        pytest.param(FLAG_IT, 4, id="flag"),
        pytest.param(THUMBS_UP_MEDIUM, 4, id="skin-tone"),
        pytest.param(RAINBOW_FLAG, 6, id="zwj-sequence"),
        pytest.param("e\u0301", 2, id="combining-accent"),
    ],
)
def test_grapheme_cluster_is_not_split_across_segments(cluster, units):
    # Twilio's calculator packs whole grapheme clusters (what the reader sees as one
    # character): a flag or a skin-toned emoji is never cut in half between two parts.
    # Part one is filled so that the cluster's first code point would fit but the whole
    # cluster does not; 134 units in all. Cut mid-cluster that is 67 + 67 (2 parts); kept
    # whole the cluster opens part two, which then overflows into a third.
    first = 2 if ord(cluster[0]) > 0xFFFF else 1
    head = "ç" + "a" * (67 - first - 1)
    tail = "a" * (134 - len(head) - units)
    info = segment_info(head + cluster + tail)
    assert (info.encoding, info.units) == ("UCS-2", 134)
    assert info.segments == 3


# ---- which characters are GSM-7 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà") + ["\n", "\r", " ", "'", '"'],
    ids=repr,
)
def test_gsm7_basic_characters_are_single_septets(char):
    assert is_gsm7(char)
    assert segment_info(char) == SegmentInfo("GSM-7", 1, 1, 160)


@pytest.mark.parametrize(
    "char",
    # lowercase c-cedilla is NOT in GSM 03.38 (only capital Ç is); nor are most accented vowels
    ["ç", "á", "í", "ó", "ú", "Á", "E\u0301", "ê", "ë", "ï", "õ", "ã", "œ"]
    + ["`", "’", "“", "”", "–", "\t", "\u00a0", "\x1b"],
    ids=repr,
)
def test_characters_outside_gsm7(char):
    assert not is_gsm7(char)
    assert segment_info(char).encoding == "UCS-2"


def test_c_cedilla_case_matters():
    assert segment_info("Ça va") == SegmentInfo("GSM-7", 1, 5, 160)
    assert segment_info("ça va") == SegmentInfo("UCS-2", 1, 5, 70)


def test_twilio_mas_example_is_ucs2_because_of_a_acute():
    # Twilio methods.test.js: 'más' is UCS-2 because of 'á' alone.
    assert segment_info("más").encoding == "UCS-2"
    assert segment_info("mas").encoding == "GSM-7"
