"""Reading replies (app/care/feedback.py): ratings the way people write them, and sentiment.

The table is the contract: each row is a reply shape seen in real customer texts and what it
means. Times, counts and prices are not ratings, and nothing anyone writes is "invalid".
"""

from __future__ import annotations

import pytest

from app.care import texts
from app.care.feedback import Rating, is_unhappy, parse_rating, sentiment, suggest_reply

FIVE = 5
TEN = 10

# (reply, expected (score, scale) or None), read as the answer to the 1-5 question.
RATINGS = [
    # plain numbers
    ("5", (5, FIVE)),
    ("1", (1, FIVE)),
    ("3", (3, FIVE)),
    (" 4 ", (4, FIVE)),
    ("5.", (5, FIVE)),
    ("4!!", (4, FIVE)),
    ("5 - great", (5, FIVE)),
    ("5, loved it", (5, FIVE)),
    ("1 - terrible", (1, FIVE)),
    ("2. Rude staff", (2, FIVE)),
    ("3 :(", (3, FIVE)),
    ("4.5", (5, FIVE)),  # half stars round up
    # out of five
    ("5/5", (5, FIVE)),
    ("5 / 5", (5, FIVE)),
    ("4/5 thanks", (4, FIVE)),
    ("4.5/5", (5, FIVE)),
    ("4 out of 5", (4, FIVE)),
    ("3 outta 5", (3, FIVE)),
    ("5 out of 5 stars", (5, FIVE)),
    ("Not great, 2/5", (2, FIVE)),
    ("2 out of 5 :(", (2, FIVE)),
    ("Rating 5/5", (5, FIVE)),
    # words and stars
    ("five stars", (5, FIVE)),
    ("FIVE!!!", (5, FIVE)),
    ("Five stars!!!!", (5, FIVE)),
    ("four", (4, FIVE)),
    ("One star", (1, FIVE)),
    ("2 stars", (2, FIVE)),
    ("five out of five", (5, FIVE)),
    ("4 out of five", (4, FIVE)),
    ("4 stars - a bit of a wait", (4, FIVE)),
    ("5 stars, Ana was amazing", (5, FIVE)),
    ("5 stars but waited 20 min", (5, FIVE)),
    ("5*", (5, FIVE)),
    # a row of star emoji (with and without the emoji variation selector), keycaps
    ("⭐⭐⭐⭐⭐", (5, FIVE)),
    ("⭐️⭐️⭐️⭐️⭐️", (5, FIVE)),
    ("⭐⭐⭐", (3, FIVE)),
    ("★★★★☆", (4, FIVE)),
    ("🌟🌟🌟🌟🌟 Ana is the best", (5, FIVE)),
    ("⭐️⭐️⭐️⭐️⭐️ thank you!", (5, FIVE)),
    ("5 ⭐", (5, FIVE)),
    ("5️⃣", (5, FIVE)),
    # in a sentence
    ("I'd give it a 4", (4, FIVE)),
    ("I would rate you a 5", (5, FIVE)),
    ("I'd give you guys 5 stars", (5, FIVE)),
    ("a solid 4", (4, FIVE)),
    ("It was a 5", (5, FIVE)),
    ("it was a 2", (2, FIVE)),
    ("Give it a five", (5, FIVE)),
    # out of ten, on the 1-5 question too
    ("10", (10, TEN)),
    ("10/10", (10, TEN)),
    ("10/10 would recommend", (10, TEN)),
    ("9/10", (9, TEN)),
    ("8 out of 10", (8, TEN)),
    ("3 out of 10", (3, TEN)),
    ("ten out of ten", (10, TEN)),
    ("Score: 9/10", (9, TEN)),
    ("🔟", (10, TEN)),
    ("easy 10", (10, TEN)),
    ("She was a 10", (10, TEN)),
    # a number with a word of thanks or an emoji after it
    ("5 thank you", (5, FIVE)),
    ("5 thanks!", (5, FIVE)),
    ("5 😊", (5, FIVE)),
    ("1 😡", (1, FIVE)),
    ("Rating: 4", (4, FIVE)),
    ("*****", (5, FIVE)),
    # NOT ratings: times, counts, prices, questions, words
    ("5:30?", None),
    ("1:30 tomorrow?", None),
    ("2:30 works for me", None),
    ("It's 5:30, are you still open?", None),
    ("It was 10 minutes late", None),
    ("I'll be there at 5", None),
    ("See you at 3pm", None),
    ("5pm", None),
    ("10am tomorrow?", None),
    ("Is 4:30 ok?", None),
    ("Can I book for 2 people?", None),
    ("Table for 4", None),
    ("I have 2 kids", None),
    ("My 2 year old loved it", None),
    ("My appointment is on the 5th", None),
    ("2nd time here", None),
    ("5 mins late", None),
    ("back in 2 weeks", None),
    ("Call me at 212 555 0123", None),
    ("$50", None),
    ("100", None),
    ("it was lovely", None),
    ("Thanks!", None),
    ("ok", None),
    ("👍", None),
    ("", None),
    ("   ", None),
]


def test_the_table_is_big_enough():
    assert len(RATINGS) >= 40
    assert sum(1 for _reply, expected in RATINGS if expected is None) >= 15


@pytest.mark.parametrize(("reply", "expected"), RATINGS, ids=[r or "<empty>" for r, _ in RATINGS])
def test_rating_shapes(reply, expected):
    rating = parse_rating(reply)
    assert (None if rating is None else (rating.score, rating.scale)) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("10", (10, TEN)), ("9", (9, TEN)), ("3", (3, TEN)), ("0", (0, TEN)), ("7/10", (7, TEN)),
     ("4 out of 5", (4, FIVE)), ("See you at 3pm", None)],
)  # fmt: skip
def test_rating_shapes_on_a_0_to_10_question(reply, expected):
    rating = parse_rating(reply, scale=TEN)
    assert (None if rating is None else (rating.score, rating.scale)) == expected


def test_long_messages_are_words_not_ratings():
    story = "I came in at 5 and " + "the place was busy and " * 6 + "it was fine"
    assert parse_rating(story) is None


# ---- who is unhappy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "unhappy"),
    [((1, FIVE), True), ((2, FIVE), True), ((3, FIVE), False), ((5, FIVE), False),
     ((0, TEN), True), ((6, TEN), True), ((7, TEN), False), ((10, TEN), False)],
)  # fmt: skip
def test_low_scores_are_unhappy(rating, unhappy):
    assert is_unhappy(Rating(*rating), None) is unhappy


def test_a_rating_outweighs_the_words_around_it():
    assert not is_unhappy(Rating(5, FIVE), sentiment("5 stars but the wait was terrible"))
    assert is_unhappy(Rating(1, FIVE), sentiment("1, thanks for asking!"))


UNHAPPY = [
    "Never coming back. Rude staff.",
    "Terrible service",
    "Very disappointed",
    "Not happy with my haircut",
    "not great",
    "The color is wrong and nobody called me back",
    "You burned my scalp",
    "I'm never coming back",
    "Honestly the worst haircut I've had",
    "She cut way too much off, I'm upset",
    "I want my money back",
    "Overpriced and rushed",
]
NOT_UNHAPPY = [
    "it was lovely",
    "Loved it, thank you!",
    "Amazing as always",
    "Ana is the best",
    "Great cut, thanks!",
    "Thanks!",
    "Not bad at all",
    "It was fine I guess",
    "Can I book for Friday?",
    "no complaints!",
    "nothing to complain about",
    "I was not disappointed",
    "couldn't be happier",
]


@pytest.mark.parametrize("reply", UNHAPPY)
def test_clearly_unhappy_words_are_unhappy(reply):
    mood = sentiment(reply)
    assert -1 <= mood < 0
    assert is_unhappy(parse_rating(reply), mood), mood


@pytest.mark.parametrize("reply", NOT_UNHAPPY)
def test_happy_or_neutral_words_are_not_unhappy(reply):
    mood = sentiment(reply)
    assert -1 <= mood <= 1
    assert not is_unhappy(parse_rating(reply), mood), mood


def test_sentiment_of_nothing_is_neutral():
    assert sentiment("") == 0
    assert not is_unhappy(None, None)


# ---- what the owner is offered ---------------------------------------------------------------


def test_suggested_reply_is_personal_and_fits_the_feedback_row():
    reply = suggest_reply("Maria", "Bloom Hair Studio")
    assert reply.startswith("Hi Maria, it's Bloom Hair Studio.")
    assert "sorry" in reply and "?" in reply  # owns it, apologises, offers to talk
    assert len(suggest_reply("Maximilianus", "Ye Olde Barbershop " * 7, "Alexandra")) <= 320
    assert suggest_reply("", "Bloom").startswith("Hi, it's Bloom.")


@pytest.mark.parametrize("unhappy", [False, True])
@pytest.mark.parametrize("first_name", ["Maria", ""])
def test_every_answer_is_thanked_never_called_invalid(unhappy, first_name):
    body = texts.render(
        "feedback_thanks", first_name=first_name, business_name="Bloom Hair Studio",
        review_link="https://regulars.test/l/Xk3d9QpL2mZt", unhappy=unhappy,
    )  # fmt: skip
    assert body.startswith("Thank you")
    assert "https://regulars.test/l/Xk3d9QpL2mZt" in body  # no gating: the link either way
    assert "invalid" not in body.lower()
