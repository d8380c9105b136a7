"""Referral codes: easy to say and type, no look-alikes, found however they are typed."""

from __future__ import annotations

import random

from app.care.referrals import clean_code, codes_in
from app.models import new_referral_code

LOOK_ALIKES = set("0O1Il")


def test_codes_have_no_look_alike_characters_and_mix_letters_and_digits():
    random.seed(1)
    codes = {new_referral_code() for _ in range(2000)}
    assert len(codes) == 2000  # 31 characters, six places: collisions are rare
    for code in codes:
        assert len(code) == 6 and code == code.upper()
        assert not LOOK_ALIKES & set(code)
        assert any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
        assert clean_code(code) == code


def test_a_code_typed_loosely_still_matches():
    assert clean_code("k7p-m4r") == "K7PM4R"
    assert clean_code(" K7P M4R ") == "K7PM4R"
    assert clean_code("k7pm4r") == "K7PM4R"
    assert clean_code("K7PM4") is None and clean_code("K0PM4R") is None  # 0 is never in one
    assert clean_code("THANKS") is None  # every code has digits: no word is one


def test_codes_are_found_inside_a_sentence():
    # Candidates only: the business's own codes decide which one is real.
    assert codes_in("Hi! Maria gave me k7p-m4r, can I book?")[0] == "K7PM4R"
    assert "K7PM4R" in codes_in("my code is K7P M4R thanks")
    assert codes_in("Code: K7PM4R.") == ["K7PM4R"]
    assert codes_in("See you at 10 tomorrow") == []
    assert codes_in("Thanks so much!") == []
    assert codes_in("") == [] and codes_in(None) == []
