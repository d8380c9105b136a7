"""Keywords and plain-language opt-outs (app/care/keywords.py keyword_of, is_plain_opt_out)."""

from __future__ import annotations

import pytest

from app.care.keywords import is_plain_opt_out, keyword_of

OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN_WORDS = ["START", "YES", "UNSTOP"]
HELP_WORDS = ["HELP", "INFO"]


def shapes(word: str) -> list[str]:
    """How people actually type a one-word reply: any case, stray spaces and punctuation."""
    return [
        word,
        word.lower(),
        word.title(),
        f"  {word}  ",
        f"{word}.",
        f"{word}!",
        f"{word.lower()}!!! ",
        f"{word.title()}?",
        f"{word}\n",
        f"\t{word.lower()}\r\n",
        f'"{word}"',
    ]


def table(words: list[str]) -> list:
    return [pytest.param(shape, id=repr(shape)) for word in words for shape in shapes(word)]


@pytest.mark.parametrize("body", table(OPT_OUT_WORDS))
def test_opt_out_words(body):
    assert keyword_of(body) == "opt_out"


@pytest.mark.parametrize("body", ["Opt out", "opt-out", "OPT OUT!", "Stop all", "STOP 🛑"])
def test_opt_out_words_with_inner_space_hyphen_or_emoji(body):
    assert keyword_of(body) == "opt_out"


@pytest.mark.parametrize("body", table(OPT_IN_WORDS))
def test_opt_in_words(body):
    assert keyword_of(body) == "opt_in"


@pytest.mark.parametrize("body", table(HELP_WORDS))
def test_help_words(body):
    assert keyword_of(body) == "help"


PLAIN_OPT_OUTS = [
    # FACTS.md / the FCC's "any reasonable manner"
    "stop texting me",
    "Please unsubscribe me",
    "take me off your list",
    "don't text me again",
    "don’t text me again",  # curly apostrophe, as phones type it
    "no more texts please",
    "opt me out",
    # the same requests in other everyday shapes
    "STOP TEXTING ME",
    "Stop texting me!!",
    "Please stop sending me messages",
    "stop messaging me 😡",
    "quit texting me",
    "Unsubscribe me please.",
    "I want to opt out",
    "Opt me out please",
    "remove me from your list",
    "Remove my number from your list",
    "do not text me",
    "Do not contact me",
    "no more messages",
    "lose my number",
]


@pytest.mark.parametrize("body", PLAIN_OPT_OUTS)
def test_plain_language_opt_outs(body):
    assert is_plain_opt_out(body)
    assert keyword_of(body) == "opt_out_plain"


# A reasonable person reads each of these as "stop texting me" (FCC 24-24; FACTS.md: take the
# stricter side when unsure). A keyword with only politeness around it, a repeated STOP, and a
# plain "stop texting me" inside a longer, angry message.
MISSED_OPT_OUTS = [
    "STOP please",
    "Please stop",
    "Stop, please.",
    "stop stop stop",
    "Who is this? I never gave you my number. Stop texting me or I will report you.",
]


@pytest.mark.parametrize("body", MISSED_OPT_OUTS)
def test_keyword_with_filler_or_long_angry_message_is_an_opt_out(body):
    assert keyword_of(body) in {"opt_out", "opt_out_plain"}


LONG_PARAGRAPH = (
    "Hi! I had a wonderful time at the salon today and I wanted to say thanks. On the way home "
    "I had to stop at the store and then I texted my sister about how great my hair looks. She "
    "wants to book too. Can you send me the link for next week?"
)

NOT_OPT_OUTS = [
    "I can't stop smiling, thank you!",
    "I can’t stop smiling, thank you!",
    "Can I cancel my appointment on Friday?",  # contains CANCEL, but is not the whole message
    "don't stop sending me deals",
    "Please don't stop the texts, I love them",
    "What time do you end today?",
    "Yes I will be there",
    "Help me find parking",
    "The end",
    "Stopped by today, loved it",
    "Thanks! I'll never stop coming here",
    "I'll stop by later and text you when I'm outside",
    "Quitting smoking, so no more smoke breaks during my cut",
    LONG_PARAGRAPH,
    "",
    "   ",
    "👍",
]


@pytest.mark.parametrize("body", NOT_OPT_OUTS)
def test_not_opt_outs(body):
    assert keyword_of(body) not in {"opt_out", "opt_out_plain"}
    assert not is_plain_opt_out(body)


def test_bare_keywords_are_keywords_not_plain_opt_outs():
    # The plain-language path is for sentences; a bare STOP is Twilio's keyword (which Twilio
    # confirms itself), so it must come back as "opt_out", not "opt_out_plain".
    for word in OPT_OUT_WORDS:
        assert keyword_of(word) == "opt_out"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Yes", "opt_in"),
        ("Yes I will be there", None),
        ("START", "opt_in"),
        ("Start time?", None),
        ("Help", "help"),
        ("Help me find parking", None),
        ("info?", "help"),
        ("More info on prices please", None),
        (None, None),
    ],
)
def test_other_keywords_only_as_the_whole_message(body, expected):
    assert keyword_of(body) == expected
