"""Reading a customer's reply: a complaint, praise or neither, and why, in the owner's words.

Rules over a lexicon, in English and Spanish, tuned on tests/data/replies/dev.csv and measured by
scripts/eval (a small classifier over MiniLM sentence embeddings was measured too and lost:
scripts/eval_embeddings.py). Only the standard library is imported, and a reply costs about
0.2 ms, so it is read on the inbound webhook. The order of the passes matters:

1. Fold the text (lower case, no accents, no apostrophes, "soooo" -> "soo").
2. Set aside what is neither praise nor complaint ("no worries", "wrong number", "ngl") and the
   fear that a reply resolves ("I was worried it would hurt but ...").
3. Find complaints: cue phrases per kind (result, wait, price, billing, staff, cleanliness,
   damage, pain, repeat, general), complaint words that are not negated ("rude", but not "not
   rude"), praise words that are ("not great", "no me gustó"), and unhappy emoji. Each pattern
   sits behind a gate of literal pieces (see _gate), so most are never run on a given reply.
4. Read a rating in any reply, asked or not (parse_rating, below; app.care.feedback re-exports
   it, so there is one parser).
5. Decide: a low rating or any complaint is unhappy, even beside praise, because the owner
   should see a mixed reply; a high rating outweighs a complaint; praise alone is happy; a reply
   of a few words with no good word, no thanks and nothing about arranging a visit is unhappy
   too (see RESIDUAL_WORDS).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# ---- ratings --------------------------------------------------------------------------------
# The one rating parser (app.care.feedback re-exports it): read in every reply, asked or not.

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
    "cero": 0, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10,
}  # fmt: skip
NUMBER_WORD = re.compile(rf"\b({'|'.join(NUMBER_WORDS)})\b")
KEYCAP = {f"{d}\ufe0f\u20e3": str(d) for d in range(10)} | {"\U0001f51f": "10"}
STAR_CHARS = "⭐★🌟✪✭✮✯✰"
MAX_RATING_WORDS = 14
_N = r"(10|[0-9](?:\.5)?)"
# A number that is a time, a duration, an amount or a head count, not a rating:
# "1:30 tomorrow?", "5pm", "it was 10 minutes late", "it was 2 of us", "dos veces" (twice).
_NOT_RATING = (
    r"(?![.:]\d)(?!\s*(?:am|pm|a\.m|p\.m|min\w*|hours?|hrs?|days?|weeks?|months?|years?|"
    r"people|persons?|kids|of us|dollars?|bucks|tickets?|times|blocks?|miles?|inches|more|"
    r"horas?|minutos?|d[ií]as?|semanas?|meses|a[nñ]os|personas?|veces|d[oó]lares|pesos)\b)"
)
# What may follow a bare number at the start: punctuation, an emoji, a word of thanks or praise,
# or the filler people add to a score ("1 bro", "2 tbh", "3 sorry").
_AFTER_BARE = (
    r"(?:\s*[-:!.,)]|\s*$|\s+(?=[^\w\s])|\s+(?:thanks?|thank\s+you|thx|ty|great|good|"
    r"loved?|amazing|awesome|excellent|perfect|bad|poor|terrible|awful|bro|lol|tbh|ngl|"
    r"honestly|sorry|smh|man|dude|imo|fr|at best|tops|max|overall|gracias)\b)"
)
PATTERNS = [
    (re.compile(rf"^{_N}\s*(?:/|out of|outta|of|de)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"\b{_N}\s*(?:/|out of|outta|de)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"^{_N}\s*(?:stars?|\*)"), "stars"),
    (re.compile(rf"\b{_N}\s*(?:stars?)\b"), "stars"),
    (
        re.compile(
            rf"\b(?:give|gave|rate|rated|rating|score|it'?s|its|was|a solid|solid|easy|"
            rf"doy|dar[ií]a|calificaci[oó]n|califico|puntuaci[oó]n|nota)"
            rf"(?:\s*:\s*|\s+)(?:it|you|u|them|y'?all|les?)?\s*(?:an?\s+|una?\s+)?"
            rf"{_N}\b{_NOT_RATING}"
        ),
        "bare",
    ),  # fmt: skip
    # "a 2 at best", "a 1 from me": a score with the word people put after it.
    (
        re.compile(rf"(?:^|\s)an?\s+{_N}\s+(?:at best|at most|tops|max|from me|honestly|tbh)\b"),
        "bare",
    ),
    (re.compile(rf"^{_N}{_NOT_RATING}{_AFTER_BARE}"), "lone"),
]
# Only these forms are read in a long message: a bare number there is a time or a count.
EXPLICIT_FORMS = frozenset({"explicit", "stars"})


@dataclass(frozen=True)
class Rating:
    score: int
    scale: int  # 5 or 10


def _normalise(text: str) -> str:
    for cap, digit in KEYCAP.items():
        text = text.replace(cap, f" {digit} ")
    text = text.lower().replace("’", "'")
    for star in STAR_CHARS:
        text = text.replace(star, " star ")
    # Spanish: "una estrella" is one star, "5 estrellas" are stars; "un"/"una" alone is "a".
    text = re.sub(r"\bunas?\s+(?=estrellas?\b)", "1 ", text)
    text = re.sub(r"\bestrellas?\b", "stars", text)
    text = NUMBER_WORD.sub(lambda match: str(NUMBER_WORDS[match.group(1)]), text)
    return " ".join(text.split())


def parse_rating(text: str, scale: int = 5, *, asked: bool = True) -> Rating | None:
    """The rating in a reply, or None when it holds none.

    "5", "5/5", "4 out of 5", "five stars", "⭐⭐⭐⭐", "10" (read on 0-10), "I'd give it a 4",
    "2 de 5", "una estrella", "le doy un 2". With `asked` (a 1-`scale` question is open) a bare
    number above the scale reads on 0-10; without it a lone "7" is not read (only "10" is), since
    in a reply nobody asked to score it is as likely a time or a count; "a solid 9" still is.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    if re.fullmatch(r"\*{1,5}[!.]*", raw):  # "*****": stars typed on a keyboard
        return Rating(raw.count("*"), 5)
    stars = sum(raw.count(ch) for ch in STAR_CHARS)
    if stars and not re.search(r"\d", _normalise(raw)):
        return Rating(min(stars, 5), 5)
    normal = _normalise(raw)
    long_message = len(normal.split()) > MAX_RATING_WORDS
    for pattern, form in PATTERNS:
        if long_message and form not in EXPLICIT_FORMS:
            continue
        match = pattern.search(normal)
        if not match:
            continue
        value = float(match.group(1))
        if form == "explicit":
            out_of = int(match.group(2))
            if value > out_of:
                continue
            return _fit(value, out_of)
        if form == "stars":
            return _fit(value, 5) if value <= 5 else None
        if form == "lone" and value > scale and not asked and value != 10:
            return None
        return _fit(value, scale if value <= scale else 10)
    return None


def _fit(value: float, scale: int) -> Rating | None:
    if value > scale or (scale in STARTS_AT_ONE and value < 1 and value != 0):
        return None
    score = int(value + 0.5)  # 4.5 stars reads as 5
    if scale in STARTS_AT_ONE:
        score = max(score, 1)
    return Rating(score, scale)


# The scales: 1-5 stars (CSAT), 1-7 "how easy was it" (customer effort, CES), 0-10 (NPS).
STARTS_AT_ONE = frozenset({5, 7})
LOW_UP_TO = {5: 2, 7: 3, 10: 6}  # a score this low is an unhappy answer
HIGH_FROM = {5: 4, 7: 5, 10: 8}  # a score this high is a happy one


def is_low(rating: Rating) -> bool:
    return rating.score <= LOW_UP_TO.get(rating.scale, 6)


def is_high(rating: Rating) -> bool:
    return rating.score >= HIGH_FROM.get(rating.scale, 8)


UNHAPPY, HAPPY, NEUTRAL = "unhappy", "happy", "neutral"
TOPICS = (
    "result", "wait", "price", "billing", "staff", "cleanliness", "damage", "pain", "repeat",
    "rating", "general",
)  # fmt: skip
MAX_REASONS = 4


@dataclass(frozen=True)
class Reading:
    """What a reply says: the verdict, a rating if it holds one, and why, for the owner."""

    verdict: str  # "unhappy" | "happy" | "neutral"
    rating: Rating | None  # read in any reply, asked or not
    reasons: tuple[str, ...]  # plain words for the owner: "rated 2 of 5", "mentions the colour"
    topics: tuple[str, ...]  # complaint kinds, from TOPICS
    language: str  # "en" | "es"
    sentiment: float  # -1..1, for the dashboard

    @property
    def unhappy(self) -> bool:
        """True when the owner should hear about this reply."""
        return self.verdict == UNHAPPY


# ---- folding ----------------------------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "´": "'"})


def _fold(text: str) -> str:
    """Lower case without accents or apostrophes, letters repeated at most twice."""
    text = text.translate(_QUOTES).lower()
    if not text.isascii():  # accents off: "pésimo" and "pesimo" read alike
        text = unicodedata.normalize("NFD", text)
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = text.replace("'", "")
    text = re.sub(r"([a-z])\1{2,}", r"\1\1", text)
    return " ".join(text.split())


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _words(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


# ---- a cheap gate in front of each pattern --------------------------------------------------
# Python's regular expressions try every branch at every position, so fifty cue patterns cost
# most of a millisecond on every reply. Each pattern is therefore gated: from its parsed form we
# take a set of literal strings one of which any match must contain, keep one short piece of
# each (at most three characters), and run the pattern only when the reply holds one of them.
# The gate never changes a result (tests/unit/test_reading.py checks that); it only skips work.

_GRAM = 3
_COMMON = " eaosrnitldcumphgbyfvqjzwkx"  # rough letter frequency in English and Spanish texts


def _literal_sets(items) -> frozenset[str] | None:
    """Strings one of which every match of the parsed sequence `items` contains, or None."""
    from re import _constants as sre  # type: ignore[attr-defined]  # the parser's own names; see _gate for the fallback

    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        found = None
        if op is sre.SUBPATTERN:
            found = _literal_sets(arg[-1])
        elif op is sre.BRANCH:
            branches = [_literal_sets(branch) for branch in arg[1]]
            if all(branch is not None for branch in branches):
                found = frozenset[str]().union(*(b for b in branches if b is not None))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and arg[0] >= 1:
            found = _literal_sets(arg[2])
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset({"".join(run)}))
    candidates = [c for c in candidates if all(s.strip() for s in c)]
    if not candidates:
        return None
    # The most selective: whose shortest string is longest, then the fewest strings.
    return max(candidates, key=lambda c: (min(len(s) for s in c), -len(c)))


def _piece(literal: str) -> str:
    """The rarest-looking substring of at most _GRAM characters: in the text if `literal` is."""
    if len(literal) <= _GRAM:
        return literal
    grams = [literal[i : i + _GRAM] for i in range(len(literal) - _GRAM + 1)]

    def commonness(gram: str) -> int:
        return sum(len(_COMMON) - _COMMON.index(ch) if ch in _COMMON else 0 for ch in gram)

    return min(grams, key=commonness)


@cache
def _gate(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Pieces one of which is in any text the pattern can match, or None (always run it)."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # private, but stable since 3.11; without it there is no gate

        literals = _literal_sets(_parser.parse(pattern.pattern).data)
    except (ImportError, AttributeError):
        return None
    if literals is None:
        return None
    return frozenset(_piece(literal) for literal in literals)


def _grams(text: str) -> frozenset[str]:
    """Every substring of `text` of one to _GRAM characters."""
    return frozenset(text[i : i + n] for i in range(len(text)) for n in (1, 2, 3))


def _may_match(gate: frozenset[str] | None, grams: frozenset[str]) -> bool:
    return gate is None or not gate.isdisjoint(grams)


# The lexicon is laid out by hand, a few words to a line; the formatter would give each its own.
# fmt: off

# ---- language ---------------------------------------------------------------------------------

_SPANISH = _wordset(
    "el la los las un una me mi mis que muy pero por para con del al es esta estaba estuvo fue "
    "lo le les se su nada todo toda bien mal gracias quedo quedaron nunca tambien porque como "
    "otra vez sin mas ya hoy ni yo tengo tiene hay son estan dos tres horas dia semana cita "
    "carro comida pelo corte unas perro perrita perrito servicio senora muchas buenisimo rico "
    "cuanto cuando donde puedo pueden tienen hacen cobraron esperando espera dijeron pedido "
    "cabello tinte muela diente encanto gusto volvere vuelvo recomiendo excelente pesimo "
    "horrible delicioso limpieza casa sucio hermoso precioso quede contenta contento"
)
_ENGLISH = _wordset(
    "the a an and is was it i you my to but not for of with so this that they he she we in on "
    "at be have had did didnt dont wont cant its im thanks thank great good love loved bad "
    "very too way just got get were are been cut hair car food order wait waited never again "
    "still how what when can do does will would could your our me us all out up like"
)
_SPANISH_MARKS = re.compile(r"[ñ¿¡áéíóú]")


def _language(raw: str, folded: str) -> str:
    tokens = re.findall(r"[a-z]+", folded)
    spanish = sum(1 for t in tokens if t in _SPANISH) + 2 * len(_SPANISH_MARKS.findall(raw.lower()))
    english = sum(1 for t in tokens if t in _ENGLISH)
    return "es" if spanish > english else "en"


# ---- what is neither praise nor complaint ---------------------------------------------------

_WRONG_NUMBER = re.compile(
    r"\bwrong (?:number|person|chat|text|convo|conversation|contact|#)|\btexted the wrong\b|"
    r"\bnumero equivocado\b|\bequivoca\w* (?:de )?numero\b|\bno soy\b|\bnot (?:me|who you think)\b|"
    r"\b(?:not|isnt|wasnt) (?:the )?right (?:number|person)\b|\bequivoca\w* de persona\b"
)
# Set phrases with a negative word in them that say nothing about the visit.
_FILLER = re.compile(
    _words(
        "no worries", "no problem", "no prob", "not a problem", "no biggie", "not gonna lie",
        "no cap", "no lie", "no joke", "no doubt", "not only", "no hay problema",
        "no te preocupes", "no se preocupe", "de nada", "no manches", "no mames", "my bad",
        "no rush", "no hurry", "sin problema", "dont worry", "ngl", "tbh",
        r"missed (?:your|my|the|a) (?:call|text|appointment|appt)", r"sorry (?:i|im|for|we)",
        "buenas tardes", "buenas noches", "buenos dias", "could (?:be|have been) worse",
    )
)
# A fear that the reply goes on to resolve: "I was worried it would hurt but it didn't at all".
# An expectation counts only when it was a bad one: "I thought it would hurt but ...".
_FEAR = re.compile(
    r"\b(?:worried|scared|afraid|nervous|anxious|terrified|hesitant|skeptical|unsure|dreading|"
    r"(?:not|wasnt) sure|hates?(?! (?:it|this|that|my|how)\b)|tenia miedo|me daba miedo|"
    r"nervios[oa]|(?:thought|expected|expecting|pense que|crei que)(?=[^.!?]{0,50}?\b(?:hurt|"
    r"pain|bad|worse|worst|expensive|fortune|forever|terrible|awful|long|doler|dolor|caro|"
    r"mal|scary|disaster)\b))\b[^.!?]{0,60}?\b(?:but|pero)\b"
)
_PRAISE_IDIOMS = re.compile(
    r"\b(?:couldnt|could not|cant|cannot)\s+(?:be|have been|ask for|have asked for|wish for)\s+"
    r"(?:any |a |more )?(?:happier|better|more happy|more pleased)\b|"
    r"\bnever\s+(?:had|been|seen|felt|looked|tasted|gotten|got|have had|had such)\s+"
    r"(?:a |an |such a |so |any )?(?:better|happier|nicer|cleaner|(?:this|so|that) "
    r"(?:good|great|clean|happy|smooth|fresh|amazing|relaxed|nice))\b|"
    r"\b(?:never|not once)\s+(?:\w+\s+)?(?:looked|felt|tasted|smelled|been|ran|run|drove)\s+"
    r"(?:this|so|that)\s+(?:good|great|clean|happy|smooth|fresh|amazing|relaxed|nice)\b|"
    r"\b(?:nothing|nada)\s+(?:to|que)\s+(?:complain|reclamar|decir|quejarme|objetar)\w*|"
    r"\bcant complain\b|\bsin quejas\b|\bno (?:tengo|hay) (?:ninguna )?quejas?\b|\bno me quejo\b|"
    r"\bhate how much i love\b|\bcant (?:stop|wait|get over|believe how)\b|\bno words\b|"
    r"\b(?:aint |no ?one |nobody |nadie )(?:\w+ )?(?:doing it|does it|do it|lo hace) "
    r"(?:better|mejor)\b|\bmejor imposible\b|\bno podria (?:estar|ser) (?:mas|mejor)\b|"
    r"\b(?:nunca|jamas)\s+(?:me\s+)?(?:habia|habian|he|hubiera|hubieran)\s+(?:\w+\s+){1,5}?"
    r"(?:tan|mejor)\b|\bno se (?:le|les) paso nada\b|\bnothing but (?:love|good|great|praise)\b|"
    r"\bnever disappoints?\b|\bwait was (?:worth it|short|nothing|quick)\b|"
    r"\bworth (?:the wait|every penny|every cent|the drive|the trip)\b|"
    r"\bbarely (?:felt|feel|noticed|hurt|any wait|waited|a wait)\b|"
    r"\b(?:exactly|just) what (?:i|we|she|he) (?:needed|wanted|asked for)\b|\bnever miss(?:es)?\b|"
    r"\b(?:on point|on fleek|spot on|dialed in)\b|\b(?:like|como) (?:a )?(?:new|nuev[oa]) ?"
    r"(?:person|woman|man|car|persona|mujer)?\b|\blike a dream\b|\b(?:less|cheaper|lower) than "
    r"(?:i|we) (?:thought|expected|feared)\b|\bno (?:wait|line)\b|\bin and out\b(?! in)|"
    r"\bsin esperar\b|"
    r"\bgot (?:all )?(?:the|every|my) (?:\w+ )?(?:knots|stains?|mats|tangles) out\b|"
    r"\b(?:never|not|hasnt|havent|hadnt|wasnt|isnt)\s+(?:\w+\s+)?(?:been|looked|felt|seen)\s+"
    r"(?:this|so|that)\s+\w+\b|\bdidnt (?:even )?feel (?:the|a|it|any)\b|\bnothing beats\b|"
    r"\bcant beat\b|\b(?:made|make|makes) my (?:day|week|night|year|month)\b|\bchefs kiss\b|"
    r"\bnada que ver con (?:el|la|los|las) (?:ultim[oa]|otr[oa]|anterior)\w*\b|"
    r"\bdidnt feel (?:a thing|anything)\b|\bno (?:senti|sentimos) nada(?: de dolor)?\b|"
    r"\b(?:pain|ache|toothache|noise|squeak|rattle|leak|dolor|ruido)\s+(?:is|has|se)?\s*"
    r"(?:finally |totally |completely )?(?:gone|quito|fue)\b"
)

# ---- cues -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cue:
    """A complaint phrase of one kind, with what the owner is told."""

    topic: str
    reason: str
    pattern: re.Pattern[str]
    flip: bool = False  # negated it is praise: "no pain", "not rude", "nada mal"
    soft: bool = False  # not in an enquiry: "is there a fee?" asks, "why a $60 fee" complains
    mine: bool = False  # not when the customer did it: "I forgot my umbrella", "I'll be late"
    context: re.Pattern[str] | None = None  # must also appear somewhere in the reply
    gate: frozenset[str] | None = None  # see _gate


def _cue(topic, reason, pattern, *, flip=False, soft=False, mine=False, context=None) -> _Cue:
    compiled = re.compile(pattern)
    return _Cue(
        topic, reason, compiled, flip, soft, mine,
        re.compile(context) if context else None, _gate(compiled),
    )


_HAIR = r"(?:hair|color|colour|blonde|highlights|toner|roots|balayage|pelo|cabello|tinte|mechas)"
_COLOUR = (
    r"\b(?:color|colour|shade|tone|tono|tinte|toner|highlights|balayage|blonde|mechas|rubio|"
    r"dye|roots|orange|brassy|naranja)\b"
)
_FOOD = (
    r"(?:food|order|fries|soup|pizza|pasta|coffee|burger|sandwich|steak|chicken|rice|tacos?|"
    r"noodles|wings|meal|dish|plate|everything|comida|pedido|sopa|carne|pollo|arroz|cafe)"
)
_DENTAL = (
    r"(?:filling|crown|cap|temporary|temp|veneer|bracket|retainer|tooth|resina|corona|empaste|"
    r"calza|diente|muela|puente|implant|implante)"
)
_ITEM = (
    r"(?:collar|harness|leash|bandana|keys?|jacket|coat|necklace|earrings?|ring|watch|wallet|"
    r"glasses|sunglasses|correa|llaves|arete|anillo|bow|mirror|espejo|hubcap|rim)"
)
_DURATION = (
    r"(?:\d+|an?|one|two|three|half an?|una|dos|tres|media)\s*\+?\s*"
    r"(?:min\w*|hours?|hrs?|days?|weeks?|horas?|minutos?|dias?|semanas?)"
)
_TOO_WORDS = (
    "short", "long", "much", "many", "thick", "thin", "light", "dark", "hot", "cold", "salty",
    "spicy", "sweet", "sour", "dry", "greasy", "oily", "loud", "rough", "hard", "tight", "loose",
    "big", "small", "little", "slow", "late", "expensive", "pricey", "high", "strong", "weak",
    "heavy", "harsh", "busy", "crowded", "noisy", "orange", "brassy", "yellow", "bright", "red",
    "pink", "purple", "blue", "green", "ashy", "grey", "gray", "rojo", "roja",
    "flat", "stiff", "sticky", "blunt", "choppy", "severe", "pushy", "rushed", "far",
    "corto", "corta", "largo", "larga", "oscuro", "salado", "salada", "picante", "caro", "cara",
    "fuerte", "poco", "tarde", "dulce", "grueso", "delgado", "apretado",
)
# What "too X" is about, when it is not the result itself.
_TOO_TOPICS = {
    "long": "wait", "slow": "wait", "late": "wait", "tarde": "wait", "busy": "wait",
    "crowded": "wait", "expensive": "price", "pricey": "price", "high": "price", "caro": "price",
    "cara": "price", "rough": "staff", "pushy": "staff", "rushed": "staff", "harsh": "staff",
    "hard": "pain", "tight": "pain", "fuerte": "pain",
}

# "Too long" and "too expensive" say what these reasons already say.
_TOPIC_REASONS = {"wait": "says the wait was long", "price": "mentions the price"}

# Words that praise as they are and complain when negated: "not great", "no me gustó".
# (pattern, topic, reason when negated, counts as praise, only when the business did it, gate)
_PRAISE_WORDS: tuple[tuple, ...] = tuple(
    (re.compile(pattern), topic, reason, praise, mine, _gate(re.compile(pattern)))
    for pattern, topic, reason, praise, mine in (
        (_words("good", "great", "nice", "amazing", "awesome", "excellent", "perfect", "best",
                "fun", "bueno", "buena", "buen", "excelente", "perfecto", "perfecta", "mejor",
                "bonito", "bonita", "lindo", "linda", "rico", "rica", "sabroso", "fresh", "fire",
                "cute", "pretty", "beautiful", "professional", "friendly", "helpful", "gentle",
                "relaxing", "relajante", "profesional", "amables?", "comfortable", "impressive",
                "thrilled"),
         "general", "says it was not good", True, False),
        (_words("happy", "pleased", "satisfied", "impressed", "contenta?o?s?", "conformes?",
                "satisfech[oa]s?", "feliz", "a fan", "feeling it", "my favorite"),
         "general", "says they are not happy", True, False),
        (_words("liked", "love", "loved", "enjoy", "enjoyed", "gusto", "gustaron", "gusta",
                "encanto", "encantaron", "encanta", "convencio", "agrado"),
         "general", "says they did not like it", True, False),
        (_words("like"), "general", "says they did not like it", False, False),
        (_words("recommend", "recomiendo", "recomendaria", "recomendamos"),
         "general", "would not recommend", True, False),
        (_words("worth it", "worth", "vale la pena"), "general", "says it was not worth it",
         True, False),
        (_words("be back", "coming back", "come back", "going back", "returning", "return",
                "ordering again", "order again", "be ordering", "bringing (?:him|her|them) back",
                "vuelvo", "regreso", "volvere", "volveremos", "regresare", "volveria",
                "regresaria"),
         "general", "says they won't be back", False, False),
        (_words("trust", "confio", "confiamos"), "general", "says they don't trust the work",
         False, False),
        (_words("bien", "ok", "okay", "fine", "acceptable", "right"),
         "general", "says it was not right", False, False),
        (_words("clean", "cleaned", "sanitized", "sterilized", "limpi[oa]s?", "limpiaron",
                "limpio"),
         "cleanliness", "says it was not clean", True, True),
        (_words("fixed", "working", "works", "fit", "fits", "match", "matches", "done",
                "finished", "ready", "cooked", "hot", "warm", "straight", "arreglaron",
                "arreglado", "funciona", "funciono", "sirve", "enfria", "prende", "arranca",
                "hizo efecto", "sacaron", "cambiaron", "terminaron", "lavaron",
                "cortaron las unas", "quedo como", "dura", "duro", "resolved", "answered"),
         "result", "says something was not done", True, True),
        (_words("listen", "listened", "escucho", "escucharon", "explained", "explico",
                "explicaron", "called", "call (?:me|us)", "called (?:me|us)", "told (?:me|us)",
                "tell (?:me|us)", "llamaron", "avisaron", "saludaron", "saludo", "apologize",
                "apologized", "said sorry", "greet", "greeted", "cared", "dijeron nada"),
         "staff", "says nobody kept them informed", False, True),
        (_words("showed up", "show up", "showed", "llegaron", "vinieron"),
         "wait", "says nobody showed up", False, True),
    )
)
_DUTY = re.compile(
    r"\b(?:wasnt|werent|isnt|arent|never|not|hasnt|havent) (?:\w+ )?(?:made|taken out|cleaned|"
    r"vacuumed|dusted|mopped|washed|wiped|replaced|fixed|changed|rotated|emptied|touched|"
    r"finished|installed|tightened|refilled|trimmed|filed|brushed|bathed|returned)\b|"
    r"\b(?:was|were) left (?:off|open|on|loose|undone|running|behind)\b|"
    r"\bdid (?:they|you|she|he|yall|u) even\b|"
    r"\b(?:didnt|did not|never|doesnt|does not|wont|will not)\s+(?:even\s+)?"
    r"(?:clean|rotate|replace|fix|change|check|finish|touch|wash|vacuum|dust|mop|make|take out|"
    r"refill|trim|file|style|shampoo|condition|empty|wipe|bother|honou?r|"
    r"do (?:anything|it|the|a|my|his|her)|work|start|fit|match|last|hold|help|cool|blow cold|"
    r"turn on|close|go away|come out|take(?! long| much| too| forever| more))\b|"
    r"\b(?:dont|do not)\s+(?:work|fit|match|start|last|hold|close)\b"
)
_NEGATORS = _wordset(
    "not no never dont didnt doesnt isnt wasnt werent arent wont cant cannot couldnt wouldnt "
    "shouldnt hasnt havent hadnt aint nothing zero without hardly nobody none neither nor "
    "ni nunca nada sin ningun ninguna ninguno tampoco jamas nadie"
)
_SCOPE_END = re.compile(
    r"[,.;:!?()\-]|\b(?:but|pero|and|y|though|tho|although|aunque|so|because|cuz|when|if|"
    r"however|or)\b"
)
# The customer speaking of what they did: "I'll be 5 minutes late", "I didn't show up".
_BY_CUSTOMER = re.compile(
    r"\b(?:i|we|im|ive|ill|i will|well|were|we are|i am|running|gonna be|might be|may be|"
    r"i might|i may|sorry)\s+(?:\w+\s+){0,2}$|\b(?:i|we)\s*$"
)

_GREETING = r"(?:(?:hi|hey|hello|hola|yo|um+|ok|okay|so|oh|also|and|buenas|oye|ey)\b[\s,!.]*)*"

_CUES: tuple[_Cue, ...] = (
    # ---- result: the work itself
    _cue("result", "mentions the colour",
         r"\b(?:orange|orangey|brassy|green|greenish|yellow|yellowish|naranja|verde|amarillo)\b",
         context=rf"\b{_HAIR}\b|\b(?:came out|turned|quedo|dejaron|stripes?)\b"),
    _cue("result", "mentions the colour",
         rf"\b{_HAIR}\s+(?:is |was |came out |looks |quedo |esta )?(?:\w+ )?"
         r"(?:too|muy|way|so|super|demasiado) (?:dark|light|oscuro|claro|brassy|orange|yellow)\b|"
         r"\b(?:darker|lighter) than\b|\b(?:not|isnt|wasnt|no es|no era)\s+(?:the\s+|el\s+)?"
         r"(?:shade|tone|tono|color|colour)\b|\bmancho (?:toda|la|el|mi)\b"),
    _cue("result", "says it came out uneven",
         _words("uneven", "crooked", "lopsided", "choppy", "patchy", "sloppy", "chunky",
                "blotchy", "streaky", "streaks", "bumpy", "lumpy", "disparej[oa]s?",
                "chuec[oa]s?", "desigual", "mal cortad[oa]", "not blended", "arent blended",
                "stripe", "stripes", "longer than", "shorter than", "two different", "off center",
                "pulling to",
                "(?:isnt|arent|not|wasnt|no esta|no estan|no quedo) (?:even|level|straight|"
                "symmetrical|parej[oa]s?|derech[oa])", "torcid[oa]s?"),
         flip=True),
    _cue("result", "says it was ruined",
         _words("butcher\\w*", "botch\\w*", "ruin\\w*", "messed up", "mess up", "destroyed",
                "arruina\\w*", "desastre", "bald spot", "hoyo", "pelon", "pelona", "shaved patch",
                "hairline back", "mullet", "cut (?:it )?(?:all|everything|so much|a lot) off",
                "cut (?:her|his|my|the|their) \\w+ off", "cut off (?:like )?(?:\\d+|an?|two|three) "
                "inch\\w*", "took off (?:like )?\\d+ inch\\w*")),
    _cue("result", "says the hair was damaged",
         _words("fried", "straw", "frizzy", "breakage", "reseco", "damaged", "maltratad[oa]",
                r"(?:hair|pelo|cabello) (?:is |esta )?(?:falling|cayendo)",
                "se me (?:esta |estan )?(?:cae|caen|cayendo)")),
    _cue("result", "says it did not last",
         r"\b(?:fading|faded|washed out|chipp(?:ed|ing)|peel(?:ed|ing)|lifting|smudged?|"
         r"despegaron|despego|se (?:me )?cayo el esmalte|no duro|fell out before|falling out|"
         r"se cayeron|se me cayeron|fell out|didnt last|didnt hold|growing out weird|"
         r"already (?:growing out|grown out|coming off|falling off|wearing off|gone)|popped off|"
         r"no agarro|no pego|no prendio|fell flat|(?:polish|gel|nails?|color|colour|dye) "
         r"(?:chips|peels|lifts|fades|breaks|comes off))\b|"
         r"\b(?:barely|didnt|did not|never) (?:took|take)\b(?! long| much| too| forever| more)"),
    _cue("result", "says it was not what they asked for",
         r"\b(?:not|isnt|wasnt|nothing like|looks nothing like)\s+(?:what|the (?:\w+ )?(?:i|we))\s+"
         r"(?:i |we )?(?:asked|wanted|showed|ordered|picked|paid|requested|booked|expected|had)|"
         r"\b(?:didnt|did not|never) ask(?:ed)? for\b|\bnot the (?:shade|cut|style|length|"
         r"color|colour|one)\b|\bnada que ver\b|\b(?:no|nada)\b[^.!?]{0,25}\b(?:lo|el|la) que "
         r"(?:pedi|queria|escogi|ensene)\b|\bno (?:es|era|fue) lo que (?:pedi|queria|esperaba)\b|"
         r"\bif i wanted\b|\blooks? (?:more |kinda |just )?like (?:a |an )?(?:rat|clown|mushroom|"
         r"poodle|boy|mess|12|twelve|bowl cut|helmet|lego|mullet)\b|"
         r"\bwhen (?:i|we) (?:asked|said|wanted|told|paid|booked)\b|"
         r"\b(?:and|but|even though|though) (?:i|we) (?:specifically )?(?:asked|said|told)\b|"
         r"\b(?:completely|totally|whole|very|so|super) different\b|\bdifferent \w+ than\b|"
         r"\bpedi \w+ y me (?:mandaron|trajeron|dieron|sirvieron)\b|"
         r"\b(?:mas|menos|more|less|shorter|longer) (?:de lo que|than (?:what )?(?:i|we))\s+"
         r"(?:le |les )?(?:pedi|queria|dije|asked|wanted|said)\b|"
         r"\b(?:parezco|parece) (?:un |una )?(?:payaso|hongo|rata|nino)\b|"
         r"\basked for [^.!?]{1,25}\b(?:and|but) (?:got|it was|it came|came|received|instead|"
         r"they gave|you gave|she gave|he gave)\b|\bpedi (?:sin|con|el|la|un|una) \w+ y\b"),
    _cue("result", "says it came out wrong",
         r"\bcame out (?:\w+ )?(?:wrong|bad|terrible|awful|uneven|weird|ugly|horrible)\b|"
         r"\bquedo (?:muy |bien )?(?:mal|horrible|fe[oa]|chueco|disparejo|corto|horrendo)\b|"
         r"\bquedaron (?:muy )?(?:mal|horribles|feas|chuecas|disparejas)\b|"
         r"\b(?:feels|felt|looks|sits) (?:kinda |a bit |really |so |all )?(?:off|weird|wrong)\b|"
         r"\bis (?:all )?(?:wrong|weird)\b|\b(?:bite|crown|filling|retainer|alignment|steering)\s+"
         r"(?:is|feels|felt|seems) (?:\w+ )?off\b|"
         r"\b(?:doesnt|dont|didnt|no) (?:match|fit|combina)\b|"
         r"\b(?:break out|broke out|breakout|rash|irritated|irritation|itchy|itching|reaction)\b|"
         r"\bme dejaron (?:el pelo |la barba |las unas )?(?:mal|naranja|verde|pelon|horrible)\b"),
    _cue("result", "says the food was not right",
         rf"\b{_FOOD}\b[^.!?]{{0,25}}\b(?:cold|lukewarm|frio|fria|frios|frias|tibi[oa])\b|"
         r"\bcold (?:fries|food|pizza|soup|coffee|burger|pasta|tacos)\b|"
         r"\b(?:llego|llegaron|estaba|estaban|vino) (?:\w+ )?(?:frio|fria|frios|frias)\b|"
         r"(?<!no )\b(?:raw|undercooked|overcooked|burnt|soggy|stale|bland|mushy|greasy|wilted|"
         r"reheated|tasteless|inedible|flavorless|crud[oa]s?|insipid[oa]|aguad[oa]s?|"
         r"rancio|podrido|echado a perder|quemad[oa]s?)\b|\bno flavou?r\b|\bsin sabor\b|"
         r"\bno tenia sabor\b|\bpink (?:in the middle|inside)\b|\b(?:soaked|drenched|swimming) in "
         r"(?:grease|oil|sauce)\b|\b(?:was|were|is|so|too|and|super|really|kinda|bit|very)\s+"
         r"(?:dry|seco|secos|secas|salty)\b|\b(?:secos|secas)\b|\bmuy salad[oa]\b"),
    _cue("result", "says the order was wrong",
         r"\b(?:order|pedido)\b[^.!?]{0,15}\b(?:wrong|incomplete|incomplet[oa]|equivocad[oa]|"
         r"mal)\b|\bwrong (?:order|item|food|size|drink|pizza|dish|sauce|toppings?)\b|"
         r"\bequivocad[oa]\b|\bincomplet[oa]\b|\bhalf (?:my|the|our) order\b|"
         r"\bcame (?:out )?wrong\b"),
    _cue("result", "says something was missing",
         r"(?<!\bim )(?<!\bi am )\bmissing\b(?! (?:you|ya|u|yall)\b)|\bfaltaba\w*|\bfaltaron\b|"
         r"\bfalto\b|\b(?:they|you|yall|u|he|she|someone|somebody|se les|se le)\s+(?:\w+\s+)?"
         r"(?:forgot|olvido|olvidaron)\b|(?<!\bi )\bforgot (?:my|the|our|to (?:add|put|include|"
         r"give))\b|\bleft out\b",
         mine=True),
    _cue("result", "says parts were missed",
         r"(?<!\bi )(?<!\bwe )\b(?:missed|skipped|overlooked)\b(?! (?:you|ya|u|yall)\b)|"
         r"\bse les paso\b|\ba medias\b|\bhalf (?:done|assed)\b|\bbarely (?:touched|did|cleaned|"
         r"took|did anything)\b|\bdid (?:basically |absolutely |literally )?nothing\b|"
         r"\bdidnt do anything\b|\bno hicieron nada\b",
         flip=True),
    _cue("result", "says it was too {0}",
         rf"\b(?:too|way too|wa+y too|demasiad[oa]s?)\s+({'|'.join(_TOO_WORDS)})\b|"
         r"\b(?:muy|super|so|way|wa+y)\s+(short|corto|corta|salado|salada|picante|"
         r"thin|thick|rough|brusco|brusca|dry|seco)\b|\b(demasiado)\b",
         flip=True, soft=True),
    _cue("result", "says nothing changed",
         r"\b(?:basically |exactly |just )?the same as (?:before|it was|when i came)\b|"
         r"\bno difference\b|\bigual que antes\b|\bno (?:se )?(?:nota|ve) (?:la )?diferencia\b"),
    _cue("result", "says something new is wrong",
         r"\b(?:light|warning|check engine|tpms|alarm)\b[^.!?]{0,12}\b(?:came|comes|went|is|keeps "
         r"coming) on\b|\bleft (?:\w+ )?(?:spots|marks|streaks|residue|a mark|a ring)\b|"
         r"\bwhite spots\b", soft=True),
    _cue("result", "says the job was not finished", soft=True, pattern=
         r"\bstill\s+(?:\w+\s+){0,2}?(?:dirty|dusty|dust|sticky|smells?|smelly|stinks|long|"
         r"matted|mats|tangled|showing|visible|wet|uneven|crooked|wrong|missing|loose|soap|"
         r"see|has|have|had|find|found)\b|\bsigue (?:oliendo|sucio|sucia|igual de|con)\b|"
         r"\bigual de suci[oa]\b|"
         r"\bsiguen? (?:ahi|las manchas|los nudos)\b|\bnudos\b"),
    # ---- wait
    _cue("wait", "says the wait was long",
         r"\b(?:waited|had to wait|have to wait|make (?:me|us) wait|made (?:me|us) wait|"
         r"espere|esperamos|esperando|tuve que esperar|me hicieron esperar|sala de espera|"
         r"double booked|overbooked|had to sit (?:there|around)|before (?:anyone|someone|somebody)"
         r" (?:came|took|helped|talked|called|acknowledged)|llevo \w+ (?:dias|horas|semanas)|"
         r"even though (?:i|we) had (?:an? )?(?:appt|appointment|reservation|booking))\b|"
         r"\bat \d+(?::\d+)?\b[^.!?]{0,30}\b(?:got|received|came|arrived|showed|delivered|ready)\b"
         r"[^.!?]{0,15}\bat \d+|"
         r"\bwaiting\b(?! (?:outside|in the car|in the lot|out front|downstairs|here|for you))|"
         r"\b(?:the|a|long|forever|\d+\s*min\w*|hours?|hrs?|an hour) wait\b(?! (?:was|is) "
         r"(?:worth|short|nothing|quick|fine))(?=.*\b(?:long|forever|insane|crazy|ridiculous|"
         r"awful|terrible|too|horrible|a lot|rough|hour|hours|min|minutes|wild|nuts|isnt ok|"
         r"not ok|unacceptable|way)\b)|"
         r"\b(?:long|forever|hour|hours|\d+\s*min\w*|\d+\s*hrs?|crazy|insane|ridiculous|"
         r"horrible|awful) wait\b|\bla espera (?:fue|estuvo|es)?\s*(?:muy )?(?:eterna|larga|"
         r"mucha|horrible|demasiada)\b|\b(?:took|takes|taking|tardaron|tardo|tardan|tarda)\b"
         r"(?<!only took)(?<!just took)[^.!?]{0,20}\b(?:forever|so long|too long|long|ages|"
         r"hours?|an hour|all day|a week|\d+\s*(?:hours?|hrs?|min\w*|days?|weeks?)|"
         r"muchisimo|mucho|una hora|horas|demasiado)\b|\btardaron\b|"
         r"\b(?:forever|ages|eternal|eterna|eternidad)\b(?!\s+(?:grateful|thankful|loyal|fan|"
         r"customer|my|a fan))|\b(?:slow|slowest|lento|lenta|lentos)\b|"
         r"\b(?:hours?|horas?|minutes|minutos)\b[^.!?]{0,15}\b(?:lobby|waiting room|sala)\b",
         flip=True),
    _cue("wait", "says the wait was long",
         rf"\b{_DURATION}\s+(?:for|to get|just to|waiting|esperando|de espera|en la sala|"
         r"en (?:entregar|traer)|por la comida|in the (?:lobby|waiting room)|para que)\b",
         soft=True),
    _cue("wait", "says the wait was long",
         r"\btake\b[^.!?]{0,10}\b(?:\d+|an?|two|three|four) (?:hours?|hrs?|days?|weeks?)\b",
         soft=True),
    _cue("wait", "says they were late",
         rf"\b{_DURATION}\s+(?:late|tarde|past (?:my|our|the))\b|"
         r"\b(?:showed up|show up|came|arrived|started|got here|crew|they|delivery|pickup|"
         r"driver|order|food|llegaron|vinieron|empezaron)\s+(?:\w+\s+){0,3}?(?:late|tarde)\b|"
         r"\b(?:past|after) (?:my|our|the) (?:appointment|appt|reservation|booking|time|cita)\b|"
         r"\b(?:muy|horas|hora) tarde\b|\bwas told \d",
         mine=True),
    _cue("wait", "says nobody showed up",
         r"\b(?:no ?one|nobody|never|didnt|did not|nadie)\s+(?:even\s+)?(?:showed|show|came|"
         r"llego|vino)\b(?! back)|\bnunca llegaron\b|\bno (?:llegaron|vinieron)\b",
         mine=True),
    _cue("wait", "says it was not ready when promised",
         r"\b(?:appointment|appt|booked|reservation|cita|walked in|had an appt)\b[^.!?]{0,40}"
         r"\b(?:till|until|didnt start|not until|got (?:cut|seen|in)|me atendieron|atendieron|"
         r"entregaron|a las \d+ y)\b|"
         r"\b(?:said|told (?:me|us)|promised|dijeron|prometieron)\b[^.!?]{0,30}\b(?:ready|done|"
         r"by|today|noon|listo|un dia|a las)\b[^?]*\b(?:and|but|picked|its been|ya van|y me|"
         r"still|came)\b|\bhasta las \d+\b|\bya van (?:\d+|dos|tres|cuatro) (?:dias|semanas)\b|"
         r"\bits been \d+ (?:days|weeks)\b"),
    # ---- price
    _cue("price", "mentions the price",
         _words("expensive", "overpriced", "over priced", "pricey", "pricy", "ripoff",
                "rip off", "rip-off", "gouging", "highway robbery", "costly", "too much money",
                "caro", "cara", "carisimo", "carisima", "costoso", "costosa", "carero", "robo",
                "not worth the (?:price|money|cost)", "not worth what (?:i|we) paid",
                "(?:tiny|small|little|smaller|skimpy|pequenas|chicas) (?:portions?|porciones|"
                "bowl|serving)", "porciones (?:muy )?(?:pequenas|chicas)",
                "portions? (?:were|was|are) (?:tiny|small|skimpy)", "para lo que (?:\\w+ )?"
                "(?:hicieron|dan|cobran|cobraron|pague|es)", "for what (?:i|we|you) (?:got|get)"),
         flip=True),
    _cue("price", "says it cost more than quoted",
         r"\b(?:more|higher|double|twice|mas)\s+(?:than|de lo que|que)\b[^.!?]{0,20}"
         r"\b(?:quote|quoted|estimate|told|said|dijeron|cotizaron)\b|"
         r"\b(?:quoted|quote|estimate|cotizaron|cotizacion|presupuesto)\b[^.!?]{0,30}"
         r"\b(?:charged|billed|paid|cobraron|more|mas)\b|\bel doble\b|"
         r"\bdouble the (?:quote|estimate|price)\b|\b(?:raised|raise|went up|increased|subieron)"
         r"\b[^.!?]{0,15}\b(?:prices?|precios?)\b|\bprices? (?:went|go|going) up\b|"
         r"\b(?:prices?|precios?) (?:again|otra vez)\b",
         soft=True),
    _cue("price", "mentions the price",
         r"(?:^|\s)\$\s?\d[\d,.]*\s*(?:\?|for\b|por\b|later\b|now\b)", soft=True),
    # ---- billing
    _cue("billing", "says they were charged twice",
         r"\b(?:charged|billed|charge|cobraron|cobro|cobrado|cargaron|cargo)\b[^.!?]{0,25}"
         r"\b(?:twice|double(?! the)|two times|2x|dos veces|doble(?! de))\b|"
         r"\bdouble[- ]?charged\b|\b(?:doble cobro|cobro doble)\b"),
    _cue("billing", "questions a charge",
         r"\b(?:charged|billed|cobraron|cargaron|me cobro)\b[^.!?]{0,40}"
         r"\b(?:didnt|never|wasnt|werent|not|no|nunca|without|sin)\b|"
         r"\b(?:overcharg\w*|over charged|cobraron (?:de )?mas|me cobro de mas)\b|"
         r"\b(?:bill|billed|invoice|statement|cuenta|cobro|factura)\b[^.!?]{0,40}"
         r"\b(?:insurance|seguro|covered|cubria|supposed to|debia|surprise|twice|wrong)\b|"
         r"\b(?:receipt|tip)\b[^.!?]{0,25}\b(?:didnt|not|never|wrong|extra)\b|"
         r"\b(?:charged|cobraron) (?:me )?(?:for|por) (?:gel|parts|a|an|the|un|una|el|la)\b|"
         r"\b(?:upgrade|extra|add-?on)\b[^.!?]{0,20}\bcharged\b|"
         r"\bexplain (?:this|the|my|that) (?:\$\s?\d+ )?(?:charge|bill|fee|invoice|cobro)\b"),
    _cue("billing", "questions a fee",
         r"\b(?:fee|fees|surcharge|recargo|cargo extra)\b", soft=True, flip=True),
    _cue("billing", "asks for their money back",
         _words("refund", "money back", "reembolso", "devuelvan (?:mi|el) dinero",
                "chargeback", "dispute")),
    _cue("billing", "questions a charge", r"\b(?:charged|billed|cobraron)\b", soft=True),
    # ---- staff
    _cue("staff", "says the staff was rude",
         _words("rude", "rudely", "groser[oa]s?", "mal educad[oa]s?", "maleducad[oa]s?",
                "attitude", "actitud", "snippy", "snappy", "snotty", "condescending",
                "condescendiente", "disrespectful", "irrespetuos[oa]", "talked down",
                "talks down", "yelled", "grito", "gritaron", "rolled (?:her|his) eyes",
                "unprofessional", "poco profesional", "annoyed", "de malas", "mala cara",
                "payaso", "jerk", "arrogant", "arrogante", "brusc[oa]s?", "rough", "aggressive",
                "(?:was|were|is|so|really|kinda|super) mean", "threw (?:the|my|it)", "careless",
                "lazy", "incompetent", "incompetente", "clueless", "descuidad[oa]s?", "pushy",
                "lectured", "lecturing", "trataron (?:muy )?(?:feo|mal)", "hablo feo",
                "complaining about", "dismissive", "brushed (?:me|us) off",
                "pushing (?:products|stuff)", "no idea what (?:he|she|they) (?:was|were) doing",
                "inexperienced", "new guy", "didnt know what (?:he|she|they) (?:was|were) doing",
                "mala actitud"),
         flip=True),
    _cue("staff", "says they felt rushed",
         _words("rushed", "rushing", "rush job", "apurad[oa]s?", "me apuraron",
                "in and out in"), flip=True),
    _cue("staff", "says the staff was not paying attention",
         r"\b(?:ignored|ignoring|ignoraron|ignoro|facetime|distracted|distraid[oa])\b|"
         r"\bon (?:her|his|their|the) (?:phone|cell)\b|\ben el (?:celular|telefono|cel)\b|"
         r"\b(?:chatting|platicando|talking) (?:with|to|con) (?:her|his|a|the|sus?)\b|"
         r"\bbarely (?:talked|spoke|said|looked)\b|"
         r"\bni (?:me )?(?:saludaron|hablo|hablaron|miro)\b|"
         r"\bnever (?:came back|checked)\b|\bupsell\w*\b|\blost my (?:paperwork|forms|file|info)\b|"
         r"\bleft (?:my |the |our )?(?:\w+ )?(?:door|gate|window) (?:unlocked|open)\b|"
         r"\blet (?:my|the|our) (?:cat|dog) out\b|\bni una disculpa\b|\bnobody said sorry\b"),
    _cue("staff", "says nobody kept them informed",
         r"\b(?:no ?one|nobody|nadie)\s+(?:\w+\s+)?(?:told|called|explained|said|greeted|checked|"
         r"explico|dijo|llamo|aviso|atendio|me explico)\b|"
         r"\bno (?:me |nos )?(?:explicaron|avisaron|llamaron)\b|\bsin avisar\b|"
         r"\bwithout (?:asking|telling|calling)\b|\bsin (?:preguntar|decir)\b|"
         r"\b(?:havent|never|didnt|hasnt) (?:heard|gotten) (?:back|anything)\b|"
         r"\b(?:nobody|no one|never) (?:got back|answered|picked up|returned)\b|"
         r"\b(?:nobody|no one|never|didnt) mention(?:ed)?\b"),
    # ---- cleanliness
    _cue("cleanliness", "says it was not clean",
         _words("dirty", "filthy", "grimy", "grime", "sticky", "dusty", "smelly", "stinks?",
                "stunk", "mildew", "mold", "moldy", "unsanitary", "unhygienic", "sucio", "sucia",
                "sucios", "sucias", "mugre", "mugroso", "cochin[oa]", "apestaba", "huele mal",
                "olia mal", "roach\\w*", "cockroach\\w*", "cucaracha\\w*", "bichos?",
                "smell\\w* like (?:mildew|smoke|mold|pee|urine|chemicals|bleach|wet dog)",
                "hair everywhere", "pelo por todos lados", "pelo en todos lados",
                "soap scum", "grease stains?",
                "(?:dust|hair|dirt|crumbs|mud|fur|glitter) (?:everywhere|all over)",
                "(?:had|has|have|with|covered in) (?:dog |cat |some |a )?(?:hairs?|crumbs|bugs|"
                "dirt|dust|mold)(?! (?:cut|done|appointment|colou?r|dye|trim|style))",
                "left (?:a|the (?:place|house|room|kitchen) a) mess", "lipstick",
                "(?:polvo|pelo|basura|tierra|pelos) (?:en|por) todos lados",
                "(?:glass|fork|plate|cup|spoon|silverware|towel|sheets?|blanket|table) (?:had|has)"
                " (?:\\w+ ){0,2}on (?:it|them)", "gunk"),
         flip=True),
    _cue("cleanliness", "found something in the food",
         r"\b(?:hair|hairs|pelo|pelos|cabello|bug|fly|plastic)\s+(?:in|on|en)\s+(?:my|the|mi|la|el)"
         r"\s+(?:\w+\s+)?(?:food|pasta|soup|salad|plate|sandwich|burger|drink|comida|sopa|plato|"
         r"ensalada|bebida)\b|\bfound (?:a|an|some) (?:hair|bug|fly|piece|band|rock|worm)\b|"
         r"\b(?:encontre|habia) un (?:pelo|bicho|cabello|pedazo)\b|"
         r"\b(?:hair|pelo) (?:all over|everywhere|from the last)\b"),
    # ---- damage
    _cue("damage", "says something was damaged",
         r"(?<!\bi )(?<!\bwe )\b(?:broke|cracked|scratched|dented|chipped|stained|bleached|"
         r"ripped|tore|ruined|damaged|scuffed|rayaron|rompieron|mancharon|golpearon|abollaron|"
         r"quebraron|estrellaron)\s+(?:my|our|the|a|an|his|her|mi|mis|el|la|los|las|un|una|su|"
         r"sus)\b|\b(?:new|nueva|nuevo)\s+(?:scratch|dent|stain|crack|chip|mark|rayon|golpe|"
         r"mancha)|\b(?:scratch|dent|stain|crack|mark|chip|rayon|mancha|golpe)(?:es|s)?\s+"
         r"(?:on|in|en)\s+(?:my|the|mi|el|la)\b|\b(?:my|the|his|her|our|mi|el|la|su)\s+"
         r"(?:\w+\s+){0,2}?(?:is|are|was|were|got|has|have|came back|esta|estan|quedo|llego)\s+"
         r"(?:\w+\s+)?(?:broken|cracked|scratched|dented|chipped|stained|ruined|damaged|torn|"
         r"ripped|bleached|rot[oa]|rayad[oa]|manchad[oa]|quebrad[oa])\b|"
         r"\b(?:grease|grasa|aceite|oil)\b[^.!?]{0,25}\b(?:stains?|all over|on my|en (?:el|mi)|"
         r"handprints)\b|\blleno de grasa\b|\b(?:greasy|dirty) handprints\b|"
         r"\b(?:something|algo) (?:broke|got broken|se rompio)\b|"
         r"\b(?:doesnt|dont|wont|no) (?:work|funciona|sirve|prende) (?:since|after|desde)\b|"
         r"\bstopped working\b|\bdejo de (?:funcionar|servir)\b|\b(?:wasnt|werent) there before\b|"
         r"\bque no tenia\b|\bque antes no\b|"
         r"\b(?:has|have|left|theres|there is|got) (?:a |some |new |two |2 )?(?:stains?|"
         r"scratch(?:es)?|dents?|chips?|cracks?|scuffs?) (?:on|in|from)\b|"
         r"\b(?:has|have|left|theres|there is|got) (?:a |some |new )(?:stains?|scratch(?:es)?|"
         r"dents?|cracks?|scuffs?)\b"),
    _cue("damage", "says something was lost",
         rf"\b{_ITEM}\b[^.!?]{{0,20}}\b(?:missing|gone|lost|perdid[oa]s?|desaparecio)\b|"
         r"(?<!\bi )(?<!\bwe )\b(?:lost|perdieron|perdio)\s+(?:his|her|my|the|our|su|mi|el|la)\b",
         mine=True),
    _cue("damage", "says something broke",
         rf"\b{_DENTAL}\b[^.!?]{{0,20}}\b(?:fell out|came off|came out|fell off|broke|cracked|"
         r"chipped|loose|se cayo|se cayeron|se rompio|se quebro|se despego|se zafo|se safo)\b|"
         r"\bse (?:me |le )?(?:cayo|rompio|quebro|despego|zafo|cayeron) (?:la|el|una|un|mi)\s+"
         rf"{_DENTAL}|\bse (?:me |le )?(?:rompio|quebro)\b|\b(?:broke|broken) down\b"),
    # ---- pain
    _cue("pain", "mentions pain",
         r"(?<!would )(?<!might )(?<!could )(?<!gonna )(?<!will )(?<!to )(?<!iba a )"
         r"\b(?:hurt|hurts|hurting|pain|painful|sore|ache|aches|aching|achy|throbbing|throbs|"
         r"killing me|ouch|swollen|swelling|inflamed|blister\w*|welts|limping|traumatized|duele|"
         r"duelen|dolio|dolieron|dolor|adolorid[oa]|hinchad[oa]|hinchazon|lastim\w+|herida|"
         r"cortada|ardor|arde|ardia|moreton|doliendo)\b",
         flip=True),
    _cue("pain", "mentions pain",
         r"\b(?:skin|scalp|face|ear|ears|paw|paws|gums?|neck|belly|piel|cara)\s+(?:is|was|are|"
         r"looks|got|has been|esta|quedo)\s+(?:all |so |really |very |super |muy )?(?:red|"
         r"irritated|raw|swollen|bumpy|itchy|burning|peeling|bleeding|roja|irritada)\b|"
         r"\b(?:keeps|wont stop|cant stop|no deja de) (?:scratching|licking|shaking|rascarse)\b|"
         r"\b(?:cant|barely|cannot) (?:\w+ )?(?:chew|eat|sleep|walk|bite|"
         r"open (?:my|her|his) mouth)\b|"
         r"\b(?:cuts|nicks|scrapes|bruises|sores|welts) (?:all over|on (?:her|his|my))\b|"
         r"\bgot (?:cut|nicked|burned|burnt) (?:during|on|by|with|in|while)\b"),
    _cue("pain", "mentions pain",
         r"\bstill\s+(?:\w+\s+)?(?:hurts?|hurting|sore|bleeding|bleeds|throbbing|swollen|aches?|"
         r"aching|in pain)\b"),
    _cue("pain", "says it burned",
         r"\b(?:burn|burned|burnt|burning|burns|razor burn|quem\w+)\b"
         r"(?!\s+(?:on|at) the (?:bottom|edges?|top))",
         flip=True),
    _cue("pain", "says it bled",
         r"\b(?:bleeding|bled|bleed|bleeds|bloody|nicked|nicks?|sangr\w+|quicked)\b|"
         r"\bcut (?:me|my (?:skin|finger|cuticle|ear|neck|toe|lip|gum))\b|"
         r"\b(?:me|le) cort(?:o|aron) (?:con|la piel)\b",
         flip=True),
    _cue("pain", "says they got sick",
         r"\b(?:food poisoning|threw up|vomit\w*|(?:got|get|getting|felt|been) sick|"
         r"sick (?:all night|after|from|to my|since)|me enferme|upset stomach|"
         r"stomach (?:ache|hurts|issues)|del estomago)\b"),
    # ---- repeat
    _cue("repeat", "says the problem came back",
         r"\b(?:same|mismo|misma)\s+(?:\w+\s+)?(?:problem|issue|noise|sound|thing|spot|spots|leak|"
         r"light|problema|ruido|falla|error|tooth|diente)\b|"
         r"\b(?:second|2nd|third|3rd|fourth|4th) time\b(?! (?:here|visiting|coming|at|in|with "
         r"you|going|customer))|\b(?:segunda|tercera|cuarta) vez\b|"
         r"\b(?:came|comes|coming|is|its|are) back on\b|"
         rf"\b(?:light|leak|noise|squeak|rattle|problem|issue|pain|it|{_DENTAL})\s+(?:is|came|"
         r"has come|are) back\b|\bkeeps (?:happening|coming back|breaking|falling|doing)\b|"
         r"\b(?:broke|broken|fell|came off|came out|leaking|leaks|failed|died|dead|stopped|quit|"
         r"is on|on|happening|doing it|peeled|chipped|missed|skipped|wrong|cayo|cae)\s+"
         r"(?:\w+\s+){0,3}?(?:again|otra vez|de nuevo)\b|"
         r"\b(?:otra vez|de nuevo)\s+(?:se|no|el mismo|la misma|mal|me|lo|la|el)\b|"
         r"\bsiguen? (?:igual|fallando|haciendo|saliendo|sonando|prendiendo|goteando|doliendo|"
         r"rechinando|tronando|oliendo)\b|\btodavia (?:no|hace|suena|huele|gotea|sale)\b|"
         r"\bstill\s+(?:\w+\s+)?(?:broken|there|making|doing|happening|leaking|shakes|shaking|"
         r"squeak\w*|squeal\w*|grind\w*|rattl\w*|noise|noisy|pull\w*|vibrat\w*|blowing|"
         r"overheat\w*|sensitive|on\b(?! for))\b|\bstill (?:not|isnt|doesnt|dont|wont|hasnt)\s+"
         r"(?:\w+\s+)?(?:work\w*|fixed|right|done|ready|clean|start\w*|go away|resolved|gone|"
         r"answered|here|fit|cool\w*|turn\w* on|back|better)\b|"
         r"\b(?:again|otra vez)\b(?=.*\b(?:same|mismo|still|sigue)\b)",
         soft=True),
    # ---- general
    _cue("general", "says it was bad",
         _words("bad", "terrible", "horrible", "horrendous", "awful", "atrocious", "worst",
                "pathetic", "poor", "lousy", "crappy", "crap", "shitty", "sucked", "sucks",
                "garbage", "junk", "disaster", "nightmare", "unacceptable", "mal", "malo", "mala",
                "malos", "malas", "malisim[oa]", "pesim[oa]", "fatal", "feisim[oa]", "fe[oa]",
                "porqueria", "basura", "chafa", "horrendo", "espantos[oa]",
                r"trash(?! (?:can|bag|bin|day|out|wasnt|was not))", "mediocre", "subpar",
                "sub par", "below average", "went downhill", "dropped the ball",
                "used to be (?:good|better|great)", "ya no es (?:como antes|lo mismo)",
                "you guys used to", "this was not it", "thanks for nothing", "said no one",
                "yeah right", "lol no", "una estafa", "estafa", "scam", "not for me", "worse",
                "peor", "would(?:ve| have) been nice (?:if|to)", "gracias por nada",
                "waste of (?:money|time)", "(?:poor|low|bad) quality",
                "not the (?:usual|same) quality", "perdida de (?:dinero|tiempo)"),
         flip=True),
    _cue("general", "sounds disappointed",
         _words("disappoint\\w*", "let down", "letdown", "underwhelm\\w*", "unhappy", "upset",
                "angry", "pissed", "furious", "frustrat\\w*", "regret\\w*", "decepcion\\w*",
                "desilusion\\w*", "enojad[oa]", "molest[oa]", "triste", "not impressed",
                "unimpressed", "expected (?:more|better|a lot more|much more)",
                "esperaba (?:mas|algo mejor|otra cosa|un mejor|una mejor|mejor)",
                "not what (?:i|we) expected",
                "could(?:ve| have| of| be)? ?(?:been )?better", "ive had better", "had better",
                "pudo (?:haber )?(?:estado|sido|quedado) mejor",
                "podria (?:estar|ser|quedar) mejor", "nothing special", "(?<!above )average",
                "not the best", "not my best", "so-so", r"so so(?! \w)", "mas o menos", "meh",
                "kind of$", "kinda$", "sort of$", "complain\\w*", "queja\\w*",
                "asustad[oa]", "my poor", "poor baby", "pobrecit[oa]",
                "i hate (?:it|this|that|my|the way|how it)", "hate it", "hated",
                "hate (?:the|my) (?:cut|color|colour|food|hair|nails|result|fade|style)",
                "odio (?:mi|el|la|como)",
                "(?:find|finding|look|looking|search\\w*) (?:for )?(?:a |another |new |a new |"
                "a different )(?:barber|salon|stylist|dentist|shop|place|company|mechanic|"
                "groomer|cleaner|service|spot)",
                "switching (?:dentists|barbers|salons|shops|mechanics|groomers|companies|"
                "cleaners|places|to another)", "done with (?:you|this|yall)",
                "cancel (?:my|our|the) (?:next|future|membership|subscription|service|plan)",
                "never (?:\\w+ ){0,3}again", "nunca mas", "smh", "somewhere else", "elsewhere",
                "another place", "otro lugar", "otra parte", "the last time (?:i|we)",
                "probably the last", "love (?:paying|waiting|spending|getting charged)",
                "wack", "whack", "lame",
                "mid(?![- ](?:day|morning|afternoon|week|month|year|way|size|range|length|back|"
                "section|terms?|[0-9]))", "gross", "nasty", "disgusting", "yuck", "ew", "eww",
                "vile", "asco", "asqueros[oa]"),
         flip=True),
    _cue("general", "asks why something went wrong",
         rf"^{_GREETING}(?:why|por que|porque)\b"),
    _cue("general", "mentions a problem",
         _words("issues?", "problems?", "problemas?", "fallas?", "scary", "knots",
                "streaks", "squeak\\w*", "rattl\\w*", "leaks?", "leaking", "noise", "ruido"),
         flip=True, soft=True),
    _cue("general", "says it was not as promised",
         r"\b(?:was|were|is|its) supposed to\b", soft=True),
    _cue("general", "says it was so-so",
         r"^(?:eh|ehh|meh|mehh|regular|muy regular)\b|^nah+[.!]*$|"
         r"\b(?:estuvo|fue|quedo|esta|todo|servicio|atencion) regular\b|"
         r"\b(?:was|is|its|thats|this)?\s*not it\s*[.!]*$"),
    _cue("general", "sounds sarcastic",
         r"^(?:oh |wow |yay |gee |so )?(?:great|wonderful|fantastic|perfect|nice|cool|awesome|"
         r"lovely|super|genial|que bien|que bueno|que bonito|excelente)\b[\s,.!]*(?:cool|great|"
         r"thanks)?[\s,.!]*(?:another|again|now (?:i|we) (?:have|need|gotta|cant|get to|must)|"
         r"otra vez|ahora (?:parezco|tengo|tendre)|pague|paid|\$)|"
         r"\bnice to know\b|\bgood to know\b(?=.*\$)|"
         r"\b(?:great|nice|good|amazing) job (?:leaving|forgetting|missing|ignoring|losing|"
         r"breaking)\b|\bso \w+ (?:that )?i can still\b|"
         r"\bthanks for the \W*\w+\W* (?:i|we) didnt\b|\bthanks for the \W\w+\W|"
         r"\.\.\.\s*(?:kind of|sort of|kinda|not really|i guess|not|said no one)\b"),
)

# Slang that praises a product and complains about a wait or a price: "this fade is nasty 🔥",
# "the tacos were insane", but "the wait was insane", "$50 for a fade is wild".
_AMBIGUOUS = re.compile(
    _words("sick", "nasty", "insane", "insanely", "crazy", "wild", "ridiculous", "nuts", "stupid",
           "killer", "wicked", "dangerously", "unreal", "filthy", "dead", "disgusting", "hard")
)
_HARSH_SLANG = frozenset({"nasty", "disgusting", "filthy"})  # praise only with clear signs
_AMBIGUOUS_COMPLAINT = re.compile(
    r"\b(?:wait|waited|waiting|took|hours?|hrs?|min\w*|minutes|line|price|prices|charge\w*|bill|"
    r"fee|cost|paid|pay|late|espera)\b|\$\s?\d"
)
_AMBIGUOUS_PRAISE = re.compile(
    r"\b(?:fade|cut|lineup|line up|taper|beard|color|colour|hair|nails|tacos?|burger|pizza|"
    r"wings|ramen|pho|birria|brunch|chowder|cake|fries|looks|bro|fr|af|good|clean|fresh|"
    r"delicious|cute|lol|omg|love)\b|🔥|💯|🤤|😍|😂"
)
_PRAISE = re.compile(
    _words("love", "loved", "loving", "lovely", "obsessed", "amazing", "awesome", "great",
           "excellent", "perfect", "perfectly", "fantastic", "wonderful", "beautiful", "gorgeous",
           "stunning", "cute", "cutest", "pretty", "best", "good", "nice", "happy", "pleased",
           "thrilled", "satisfied", "impressed", "recommend", "spotless", "sparkling",
           "immaculate", "flawless", "fire", "lit", "fresh", "clean", "crispy", "crisp", "dope",
           "goated", "slaps", "bussin", "sheesh", "legit", "solid", "killed it", "nailed",
           "ate", "yum", "yummy", "delicious", "tasty", "bomb", "incredible", "gentle",
           "painless", "patient", "relaxing", "heavenly", "glowing", "soft", "fluffy",
           "handsome", "lifesavers?", "gem", "rock", "beast", "magic", "wow", "worth",
           "honest", "fair", "quick", "fast", "smooth", "like new", "brand new", "appreciate\\w*",
           "sharp", "no notes", "encanto", "encantaron", "encantada", "encantado",
           "encanta", "fascino", "hermos[oa]", "precios[oa]", "perfect[oa]", "excelente",
           "mejor", "bonit[oa]", "lind[oa]", "chid[oa]", "chingona?", "perrona?", "padre",
           "de lujo", "delicios[oa]", "ric[oa]", "riquisim[oa]", "buenisim[oa]",
           "limpisim[oa]", "impecable", "brillando", "feliz", "content[oa]", "amables?",
           "honest[oa]s?", "rapid[oa]", "relajante", "increible", "bien", "buen[oa]?",
           "recomiendo", "volveremos", "volvere", "como nuevo", "de maravilla", "maravillos[oa]",
           "genial", "calientito", "calm", "calma", "carino", "hit the spot", "to die for",
           "devoured", "lifesaver", "crushed it", "went crazy", "loves", "limpi[oa]s",
           "mejores", r"\w+isim[oa]s?", "magician", "wizard", "genius", "artist", "queen",
           "legend", "a pro", "quiet", "early", "on time", "knows? exactly",
           r"not a (?:single )?\w+ (?:left|in sight)", "divin[oa]", "guap[oa]s?", "miracle",
           r"(?:feels?|felt|much|so much) better", r"\w+est \w+ (?:ive|i have)",
           "un amor", "un sol", "una maravilla", "un encanto", "reluciente", "relajad[oa]",
           "princesa", "principe", "listened", "explained everything", "upfront")
)
_UNHAPPY_EMOJI = frozenset("😡😠🤬👎😞😢😤😒🙄😑😣😖🤢🤮😔😩😫☹🙁😕😟💩😐😿💔🤦😓😥")
_HAPPY_EMOJI = frozenset(
    "😍🥰😊🙂😁😀😄😃😆🤩😋🤤😎👌👏🙌🙏💯🔥❤💕💖💗💛💙💜🧡💚🤍💓💞✨🌟💅🥳🎉😻🤗😘☺🫶💪👊"
)
# An enquiry is not a complaint about a fee or a price it asks about: "is there a fee?"
_ENQUIRY = re.compile(
    r"\b(?:can|could) (?:i|we|you) (?:bring|come|book|drop|look at|check|schedule|get)\b|"
    rf"^{_GREETING}"
    r"(?:can|could|do|does|is|are|what|whats|when|where|how|who|will|would|should|any|"
    r"cuando|cuanto|cuanta|donde|puedo|pueden|podrian|tienen|hay|a que|que hora|es|se puede|"
    r"u open|you open|open)\b"
)
_QUESTION = re.compile(
    rf"\?|^{_GREETING}"
    r"(?:can|could|do|does|is|are|what|whats|when|where|how|who|will|cuando|cuanto|"
    r"donde|puedo|pueden|tienen|a que|me puedes|me pueden|necesito|please|pls|plz|"
    r"manana tienes|do you|do yall)\b"
)
# What a neutral reply is made of: arranging a visit, paying, who is texting, an acknowledgement.
# A reply that says none of this, no praise and no thanks is not assumed to be fine (see below).
_NEUTRAL = re.compile(
    r"\b(?:book|booking|appointment|appt|reschedule|cancel|schedule|come in|stop by|swing by|"
    r"drop (?:it |him |her |them )?off|drop off|pick (?:it |him |her |them )?up|pickup|pick up|"
    r"tomorrow|tonight|today|this week|next (?:week|month|time|visit)|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|weekend|at \d|\d ?(?:am|pm)|code|gate|key|keys|address|"
    r"parking|insurance|venmo|cash|zelle|card|pay|deposit|receipt please|number|call me|"
    r"text me|email|running (?:\w+ ){0,2}(?:late|behind)|be there|on my way|omw|see you|see ya|"
    r"out of town|"
    r"skip|traveling|vacation|new number|who is this|who dis|who are you|meant for|"
    r"someone else|no thanks|no thank you|will do|sounds good|got it|noted|received|confirm\w*|"
    r"all set|see you then|cita|manana|hoy|semana|lunes|martes|miercoles|jueves|viernes|sabado|"
    r"domingo|a las \d|llave|codigo|direccion|paso por|recojo|llevo|lo llevo|la llevo|quien es|"
    r"quien habla|numero|no gracias|de acuerdo|esta bien|nos vemos|ahi nos vemos|stop|help|"
    r"unsubscribe|ill be|i will be|will be home|will be there|outside|years? old|months? old|"
    r"left my|forgot my|the dog will|the cat will|sorry|perdon|disculpa|ok|okay|fine|alright|"
    r"aight|decent|table|order for|reservation|please|pls|plz|por favor|see u|voy tarde|"
    r"llego en|en camino|ya voy|is that ok|its the|it is the|es el|es la|booked|next one|"
    r"id like|i would like|would like|i want to|wants? to|quiero|quisiera|me gustaria|"
    r"(?:a|one|quick|have a) question|una (?:pregunta|duda)|pasa por|recoger\w*|va a ir|"
    r"vamos a|(?:we|i)(?:ll| will) leave|dejamos|dejare)\b"
)
# Thanks with nothing wrong in it reads as content: "thanks again!", "gracias por todo".
_GRATITUDE = re.compile(
    r"\b(?:thanks|thank you|thank u|thx|ty|tysm|appreciate\w*|preciate\w*|grateful|gracias|"
    r"agradec\w*|"
    r"bless|blessed)\b|🙏"
)
# A reply this long that is neither praise, nor thanks, nor a question, nor arranging a visit,
# is read as unhappy: after a visit, people who say something specific and no good word about it
# are mostly complaining, and an owner would rather read one reply too many than miss one.
RESIDUAL_WORDS = 3
# What a complaint is about, for the owner, next to what was wrong with it.
_SUBJECTS = (
    (re.compile(_COLOUR), "mentions the colour"),
    (re.compile(r"\b(?:service|servicio|atencion)\b"), "mentions the service"),
)


# fmt: on

# ---- reading --------------------------------------------------------------------------------


def _clause_before(text: str, start: int) -> str:
    """The words of the same clause before `start`, at most 48 characters of them."""
    window = text[max(0, start - 48) : start]
    ends = [match.end() for match in _SCOPE_END.finditer(window)]
    return window[ends[-1] :] if ends else window


def _negated(text: str, start: int) -> bool:
    """A negator among the four words before `start`, within the same clause."""
    words = re.findall(r"[a-z]+", _clause_before(text, start))[-4:]
    return any(word in _NEGATORS for word in words)


_TRAILING_NEGATOR = re.compile(rf"\b(?:{'|'.join(sorted(_NEGATORS))})\s*$")


def _by_customer(text: str, start: int) -> bool:
    """The customer is the one who did it: "I'll be late", "I didn't show up"."""
    before = _TRAILING_NEGATOR.sub("", _clause_before(text, start).rstrip()).rstrip() + " "
    return bool(_BY_CUSTOMER.search(before))


def _slang(text: str, grams: frozenset[str]) -> tuple[str, list[tuple[int, str, str]], int]:
    """Settle slang that can praise or complain; returns the text with the praise marked."""
    found: list[tuple[int, str, str]] = []
    praise = 0
    if not _may_match(_gate(_AMBIGUOUS), grams):
        return text, found, praise
    pieces: list[str] = []
    last = 0
    for match in _AMBIGUOUS.finditer(text):
        word = match.group(0)
        clause = re.split(r"[.!?,;]|\bbut\b|\bpero\b", text[: match.end()])[-1]
        after = text[match.end() : match.end() + 16]
        rest = re.split(r"[.!?,;]|\bbut\b|\bpero\b", text[match.start() :])[0]
        if re.match(r"\s+(?:good|clean|fresh|delicious|fast|cute|soft|tasty|smooth)\b", after):
            verdict = "praise"  # "stupid good", "crazy clean"
        elif _AMBIGUOUS_COMPLAINT.search(clause):
            verdict = "complaint"  # "the wait was insane", "$50 for a fade is wild"
        elif word in _HARSH_SLANG:
            verdict = "praise" if re.search(r"🔥|💯|\bbro\b|\bfr\b|\baf\b", text) else "keep"
        elif _AMBIGUOUS_PRAISE.search(clause) or _AMBIGUOUS_PRAISE.search(rest):
            verdict = "praise"  # "sick fade", "the tacos were insane"
        else:
            verdict = "keep"
        if verdict == "keep":
            continue
        if verdict == "complaint":
            topic = "price" if re.search(r"\$|price|cost|charge|bill|fee|paid", clause) else "wait"
            reason = "mentions the price" if topic == "price" else "says the wait was long"
            found.append((match.start(), topic, reason))
        else:
            praise += 1
        pieces.append(text[last : match.start()])
        pieces.append("fire" if verdict == "praise" else "so")
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), found, praise


def _find_complaints(
    text: str, grams: frozenset[str], enquiry: bool
) -> tuple[list[tuple[int, str, str]], int]:
    """(position, topic, reason) for each complaint found, and the praise found on the way."""
    found: list[tuple[int, str, str]] = []
    praise = 0
    for cue in _CUES:
        if (cue.soft and enquiry) or (cue.gate is not None and cue.gate.isdisjoint(grams)):
            continue  # the gate, inline: this loop runs fifty times a reply
        if cue.context and not cue.context.search(text):
            continue
        for match in cue.pattern.finditer(text):
            if cue.flip and _negated(text, match.start()):
                praise += 1  # "no pain", "not rude", "nada mal"
                continue
            if cue.mine and _by_customer(text, match.start()):
                continue
            topic, reason = cue.topic, cue.reason
            if "{0}" in reason:
                word = next((group for group in match.groups() if group), "much")
                topic = _TOO_TOPICS.get(word, topic)
                reason = _TOPIC_REASONS.get(topic) or reason.format(word)
            found.append((match.start(), topic, reason))
            break
    for pattern, topic, reason, counts, mine, gate in _PRAISE_WORDS:
        if gate is not None and gate.isdisjoint(grams):
            continue
        complained = False
        for match in pattern.finditer(text):
            if not _negated(text, match.start()):
                praise += counts
            elif not complained and not (mine and _by_customer(text, match.start())):
                found.append((match.start(), topic, reason))  # "not great", "no me gustó"
                complained = True
    if _may_match(_gate(_DUTY), grams):
        for match in _DUTY.finditer(text):
            if not _by_customer(text, match.start()):
                found.append((match.start(), "result", "says something was not done"))
                break
    if _may_match(_gate(_PRAISE), grams):
        praise += len(_PRAISE.findall(text))
    return found, praise


def _sentiment(complaints: int, praise: int, rating: Rating | None, verdict: str) -> float:
    score = praise - 1.5 * complaints
    if rating is not None:
        score += (rating.score / rating.scale - 0.55) * 6
    value = score / math.sqrt(score * score + 4)
    if verdict == UNHAPPY:
        value = min(value, -0.3)
    elif verdict == HAPPY:
        value = max(value, 0.3)
    else:
        value = max(-0.25, min(0.25, value))
    return round(value, 3)


def _set_aside(pattern: re.Pattern[str], text: str, grams: frozenset[str]) -> tuple[str, int]:
    """`text` with the pattern's matches replaced by a clause break, and how many there were."""
    if not _may_match(_gate(pattern), grams):
        return text, 0
    return pattern.subn(" , ", text)


def read_reply(text: str, *, scale: int = 5, asked_rating: bool = False) -> Reading:
    """Read one reply: unhappy, happy or neutral, with the rating, the reasons and the kinds.

    `scale` is the business's rating scale (5 or 10); `asked_rating` says a rating question is
    open, which lets a lone number above the scale read as a 0-10 score.
    """
    raw = (text or "").strip()
    folded = _fold(raw)
    language = _language(raw, folded)
    rating = parse_rating(raw, scale, asked=asked_rating) if raw else None

    work = f" {folded} "
    grams = _grams(work)
    work, wrong_number = _set_aside(_WRONG_NUMBER, work, grams)
    work, _filler = _set_aside(_FILLER, work, grams)
    work, fears = _set_aside(_FEAR, work, grams)
    work, idioms = _set_aside(_PRAISE_IDIOMS, work, grams)
    work = " ".join(work.split())
    grams = _grams(work)
    enquiry = bool(_ENQUIRY.search(work))

    settled, found, praise = _slang(work, grams)
    if settled != work:  # slang was marked as praise: the gate needs the new words
        work, grams = settled, _grams(settled)
    more, praised = _find_complaints(work, grams, enquiry)
    found += more
    sad = sum(1 for ch in raw if ch in _UNHAPPY_EMOJI)
    glad = sum(1 for ch in raw if ch in _HAPPY_EMOJI)
    if sad:
        found.append((len(work), "general", "unhappy emoji"))
    praise += praised + fears + idioms + glad
    if not found and rating is None and not praise and len(work.split()) >= RESIDUAL_WORDS:
        # Looked for before the set-asides took "sorry I ..." and "no worries" out.
        arranging = wrong_number or _QUESTION.search(folded) or _NEUTRAL.search(folded)
        if not arranging and not _GRATITUDE.search(work):
            found.append((0, "general", "no good word about the visit"))

    low = high = False
    if rating is not None:
        low, high = is_low(rating), is_high(rating)
    if low or (found and not high):
        verdict = UNHAPPY
    elif high or (praise and not found and not _QUESTION.search(work)):
        verdict = HAPPY  # a question is neutral even with a kind word in it: "same color again?"
    else:
        verdict = NEUTRAL

    reasons: list[str] = []
    topics: list[str] = []
    if rating is not None:
        reasons.append(f"rated {rating.score} of {rating.scale}")
        if low:
            topics.append("rating")
    if found:
        # Kinds in the order the customer wrote them, "general" last: it explains least.
        ordered = sorted(found, key=lambda item: (item[1] == "general", item[0]))
        if any(topic in ("result", "general") for _pos, topic, _reason in ordered):
            for pattern, reason in _SUBJECTS:
                if pattern.search(work):
                    ordered.insert(0, (0, "", reason))  # what it is about, not a kind
                    break
        for _pos, topic, reason in ordered:
            if topic and topic not in topics:
                topics.append(topic)
            if reason not in reasons:
                reasons.append(reason)
        if "repeat" in topics and "says something broke" in reasons:
            reasons[reasons.index("says something broke")] = "says something broke again"
        if "mentions the service" in reasons and "says it was bad" in reasons:
            reasons.remove("says it was bad")  # one reason says both
            reasons[reasons.index("mentions the service")] = "says the service was bad"
    elif wrong_number:
        reasons.append("says it's a wrong number")
    elif verdict == NEUTRAL and _QUESTION.search(work):
        reasons.append("asks a question")
    if verdict == UNHAPPY and not topics:
        topics.append("general")
    reasons = reasons[:MAX_REASONS]
    if language == "es" and reasons:
        reasons[0] = f"in Spanish: {reasons[0]}"
    return Reading(
        verdict=verdict,
        rating=rating,
        reasons=tuple(reasons),
        topics=tuple(topics),
        language=language,
        sentiment=_sentiment(len(found), praise, rating, verdict),
    )
