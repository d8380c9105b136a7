"""Texts the owner edits without code: the plain form of a template, previews of exactly what
sample customers receive, and the gaps an empty merge field would leave.

The stored template stays Jinja (care.texts checks and renders it in its sandbox). The owner
reads and writes a plain form of it: merge fields as named tokens, `[First name]`, and the two
common shapes `[First name or there]` ({{ first_name or "there" }}) and `[if Staff name] ...
[else] ... [end if]` ({% if staff_name %}...{% endif %}). A text the plain form cannot say
exactly (a comparison, a filter) is edited as its source: to_plain gives None for it, never a
reading that would change the text when saved back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import TemplateSyntaxError, nodes
from sqlmodel import Session

from app.care import merge, texts
from app.care.outbound import introduce
from app.models import Business, Customer, MessageKind, Visit
from app.sms.encoding import cost_cents, segment_info

# ---- the plain form -------------------------------------------------------------------------

_TOKEN = re.compile(r"\[([^\[\]\n]{1,80})\]")
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’"}
_BY_NAME = {
    **{name: name for name in merge.FIELDS},
    **{f.label.casefold(): name for name, f in merge.FIELDS.items()},
}
ELSE, END_IF = "[else]", "[end if]"


class _NotPlain(Exception):
    """A part of a text the plain form has no words for."""


def token(name: str) -> str:
    """How the plain form writes a merge field: "[First name]"."""
    return f"[{merge.FIELDS[name].label}]"


def chips(names, *, plain: bool = True) -> list[dict]:
    """The merge fields `names` as the pages' chips: each inserts its token ([First name]),
    or in a template's source its {{ field }}. Their names come from care.merge."""
    return [
        {"name": name, "label": merge.FIELDS[name].label, "says": merge.FIELDS[name].says,
         "insert": token(name) if plain else "{{ " + name + " }}"}
        for name in names
    ]  # fmt: skip


def _field(words: str) -> str | None:
    return _BY_NAME.get(" ".join(words.split()).casefold())


def _literal(value: str) -> str:
    """`value` as a Jinja string literal (its lexer reads backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and _QUOTES.get(value[0]) == value[-1]:
        return value[1:-1]
    return value


def _source_of(match: re.Match) -> str:
    inner = " ".join(match.group(1).split())
    lowered = inner.casefold()
    if lowered in {"else", "otherwise"}:
        return "{% else %}"
    if lowered in {"end if", "endif", "end"}:
        return "{% endif %}"
    if lowered.startswith("if "):
        name = _field(inner[3:])
        return "{% if " + name + " %}" if name else match.group(0)
    name = _field(inner)
    if name:
        return "{{ " + name + " }}"
    head, *rest = _OR.split(inner, maxsplit=1)
    name = _field(head) if rest else None
    fallback = _unquote(rest[0].strip()) if rest else ""
    if name is None or not fallback:
        return match.group(0)  # the owner's own square brackets: text as typed
    other = _field(fallback)
    return "{{ " + name + " or " + (other or _literal(fallback)) + " }}"


def to_source(plain: str) -> str:
    """The template source of what the owner wrote: each [Field] a merge field; anything else
    (their own brackets, Jinja typed by hand) kept as it is."""
    return _TOKEN.sub(_source_of, plain.replace("\r\n", "\n"))


def _plain_name(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name) and node.name in merge.FIELDS:
        return merge.FIELDS[node.name].label
    raise _NotPlain


def _plain(node: nodes.Node) -> str:
    if isinstance(node, nodes.Output):
        return "".join(_plain(child) for child in node.nodes)
    if isinstance(node, nodes.TemplateData):
        return node.data
    if isinstance(node, nodes.Name):
        return f"[{_plain_name(node)}]"
    if isinstance(node, nodes.Or):
        right = node.right
        if isinstance(right, nodes.Const) and isinstance(right.value, str):
            return f"[{_plain_name(node.left)} or {right.value}]"
        return f"[{_plain_name(node.left)} or {_plain_name(right)}]"
    if isinstance(node, nodes.If) and not node.elif_:
        body = "".join(_plain(child) for child in node.body)
        other = "".join(_plain(child) for child in node.else_)
        return f"[if {_plain_name(node.test)}]{body}{ELSE + other if node.else_ else ''}{END_IF}"
    raise _NotPlain


def to_plain(source: str) -> str | None:
    """The plain form of a template, or None when it has no exact one (then the owner edits
    the source). Exact means: read back by to_source, it is the same template."""
    try:
        tree = texts.parse(source)
        plain = "".join(_plain(node) for node in tree.body)
        same = texts.parse(to_source(plain)) == tree
    except (TemplateSyntaxError, _NotPlain, RecursionError):
        return None
    return plain if same else None


# ---- what sample customers receive -----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    label: str
    name: str
    staff: str
    introduced: bool  # they have had a text already: no name in front, no opt-out line


SAMPLES = (
    Sample("Maria, a new customer", "Maria Lopez", "Rosa", introduced=False),
    Sample("A new customer with no name and no staff recorded", "", "", introduced=False),
    Sample("Christopher, a regular with long names", "Christopher Montgomery", "Alexandra",
           introduced=True),
)  # fmt: skip
SAMPLE_PHONE = "+12125550123"
SAMPLE_CODE = "K7PM4R"
# What an occasion brings (an alert's reason, an ask's offer): the long sample values.
OCCASION_FIELDS = (
    "reason",
    "excerpt",
    "unhappy",
    "offer",
    "reward",
    "next_opening",
    "link",
    "visit_count",
    "years",
)
# The kind a template's text is queued as, where the two names differ.
MESSAGE_KINDS = {"owner_alert": MessageKind.ALERT}


@dataclass(frozen=True)
class Preview:
    label: str
    text: str  # exactly the body the customer's phone shows
    first_text: bool
    characters: int
    segments: int
    encoding: str
    cents: float


def sample_fields(
    session: Session, business: Business, sample: Sample, *, now: datetime, base_url: str
) -> tuple[Customer, dict[str, object]]:
    """A sample customer (never stored) and their merge fields, as care.merge makes them for
    a real one; links not made, but shown at their real length."""
    customer = Customer(business_id=business.id, phone=SAMPLE_PHONE, name=sample.name,
                        referral_code=SAMPLE_CODE,
                        introduced_at=now if sample.introduced else None)  # fmt: skip
    visit = Visit(business_id=business.id, customer_id=0, staff=sample.staff or None,
                  occurred_at=now)  # fmt: skip
    occasion = texts.sample_fields(business.name)
    every = merge.fields_for(session, business, customer, now=now, base_url=base_url,
                             visit=visit, **{n: occasion[n] for n in OCCASION_FIELDS})  # fmt: skip
    # A link is not made for a preview: its stand-in has the real one's length.
    fields = {n: v.preview if isinstance(v, texts.Deferred) else v for n, v in every.items()}
    fields["link"] = merge.link_stand_in(base_url) or occasion["link"]  # an alert's link
    for name in ("review_link", "referral_link"):
        fields[name] = fields[name] or occasion[name]  # no review page or public origin yet
    return customer, fields


def receives(business: Business, customer: Customer, kind: str, source: str, fields) -> str:
    """The body `customer` gets from `source`: rendered with the merge fields its kind may use
    (care.texts) and, for a first text, introduced as care.outbound introduces every text."""
    body = texts.render_source(source, **texts.fields_of_kind(kind, fields, business.name))
    return introduce(body, business, customer, MESSAGE_KINDS.get(kind, kind))


def sample_previews(
    session: Session, business: Business, kind: str, source: str, *, now: datetime, base_url: str
) -> list[Preview]:
    """What each sample customer receives from `source` (checked first: raises TemplateError)."""
    texts.validate_source(kind, source, business.name)
    previews = []
    for sample in SAMPLES:
        customer, fields = sample_fields(session, business, sample, now=now, base_url=base_url)
        text = receives(business, customer, kind, source, fields)
        info = segment_info(text)
        previews.append(Preview(sample.label, text, customer.introduced_at is None, len(text),
                                info.segments, info.encoding, cost_cents(text)))  # fmt: skip
    return previews


# ---- gaps ------------------------------------------------------------------------------------

# Words that lead into a name ("with Rosa", "and seeing Rosa", "con Rosa"): left hanging when
# the name is empty, and taken with it when the phrase is said only when the name is known.
_LEADS = r"with|and|by|from|for|to|at|of|see|seeing|saw|meet|met|con|y|de|para|por|&"
# What a hole reads like, in the text as sent (whitespace folded) ...
_HOLES = (
    re.compile(r"\s[,.!?;:)]"),  # "with ." and "Hi ,"
    re.compile(r"^[,.!?;:)]"),  # ", welcome back"
    re.compile(r"[(\"“]\s*[)\"”]"),  # "()" and '""'
    re.compile(r"[,;:]\s*[,.!?;:]"),  # "Hi, ."
    re.compile(rf"(?<!\w)(?:{_LEADS})(?:[,.!?;:]|$)", re.IGNORECASE),  # "with." "seeing!"
)
# ... and, before folding, a lead word with nothing after it ("with  today").
_HANGING = re.compile(rf"(?<!\w)(?:{_LEADS})\s{{2,}}", re.IGNORECASE)


@dataclass(frozen=True)
class Fix:
    label: str  # what the fix does, in words
    source: str  # the template with it
    plain: str | None  # its plain form
    result: str  # what a customer without the field gets then


@dataclass(frozen=True)
class Gap:
    name: str  # the merge field
    label: str  # the field's plain name
    text: str  # what a customer without it gets
    fixes: list[Fix] = field(default_factory=list)


def _holes(folded: str, unfolded: str) -> list[int]:
    return [len(p.findall(folded)) for p in _HOLES] + [len(_HANGING.findall(unfolded))]


def _hole_left(source: str, fields: Mapping[str, object], name: str) -> str | None:
    """What a customer without `name` gets when that reads with a hole in it, else None:
    the text rendered with `name` empty against the text with every field filled."""
    empty = {**fields, name: ""}
    without = texts.render_text(source, empty)
    filled = _holes(
        texts.render_text(source, fields), texts.render_text(source, fields, fold=False)
    )
    holes = _holes(without, texts.render_text(source, empty, fold=False))
    if not without or any(h > f for h, f in zip(holes, filled, strict=True)):
        return without
    return None


def _bare(name: str) -> str:
    return r"\{\{\s*" + name + r"\s*\}\}"


def _fix_candidates(source: str, name: str) -> list[tuple[str, str, str]]:
    """(its way, what it does, the template with it): ways to say the text without `name`,
    the better first; one of each way is offered."""
    if not re.search(_bare(name), source):
        return []
    label = merge.FIELDS[name].label.lower()
    known = "{% if " + name + " %}"
    candidates = []
    # The field and the word that leads into it, said only when it is known.
    lead = re.compile(rf"(\s*)((?:(?<!\w)(?:{_LEADS})\s+)?){_bare(name)}", re.IGNORECASE)
    first = lead.search(source)
    if first:
        phrase = f"{first.group(2)}{token(name)}".strip()
        candidates.append(
            (
                "when known",
                f"Say “{phrase}” only when the {label} is known",
                lead.sub(lambda m: f"{known}{m[1]}{m[2]}{{{{ {name} }}}}{{% endif %}}", source),
            )
        )
    # The field and what follows it ("[First name], welcome"), said only when it is known.
    trail = re.compile(rf"{_bare(name)}([,;:]?\s*)")
    candidates.append(
        (
            "when known",
            f"Say “{token(name)}” only when the {label} is known",
            trail.sub(lambda m: f"{known}{{{{ {name} }}}}{m[1]}{{% endif %}}", source),
        )
    )
    fallback = merge.FIELDS[name].fallback
    if fallback:
        candidates.append(
            (
                "fallback",
                f"Say “{fallback}” when there is no {label}",
                re.sub(_bare(name), "{{ " + name + " or " + _literal(fallback) + " }}", source),
            )
        )
    return candidates


def gaps(kind: str, source: str, business_name: str) -> list[Gap]:
    """Where a merge field that is empty for some customers (no first name, no staff recorded)
    would leave a hole ("with .", "Hi ,"), found by rendering the text with each such field
    empty; each with the fixes that render without one. The source must be valid."""
    fields = texts.fields_of_kind(kind, texts.sample_fields(business_name), business_name)
    found = []
    for name in texts.MERGE_FIELDS.get(kind, ()):
        if not merge.FIELDS[name].optional or name not in texts.fields_used(source):
            continue
        without = _hole_left(source, fields, name)
        if without is None:
            continue
        fixes, ways = [], set()
        for way, label, fixed in _fix_candidates(source, name):
            if way in ways or fixed == source:
                continue
            try:
                texts.validate_source(kind, fixed, business_name)
                if _hole_left(fixed, fields, name) is not None:
                    continue
            except texts.TemplateError:
                continue
            ways.add(way)
            result = texts.render_text(fixed, {**fields, name: ""})
            fixes.append(Fix(label, fixed, to_plain(fixed), result))
        found.append(Gap(name, merge.FIELDS[name].label, without, fixes))
    return found


# ---- the editor's answer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """What the editor shows for a draft: its previews and gaps, or why it cannot be used."""

    source: str
    error: str | None = None
    previews: list[Preview] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


_FIELD_IN_WORDS = re.compile(r"\{\{ (\w+) \}\}")
_UNDEFINED = re.compile(r"'(\w+)' is undefined\.")

# The parser's words for an [if] the plain form left open or closed twice, in the form's own.
_BLOCK_WORDS = (
    ("unknown tag 'endif'", "An [end if] has no [if …] before it."),
    ("unknown tag 'else'", "An [else] goes once, between an [if …] and its [end if]."),
    ("needs to be closed is 'if'", "Every [if …] needs an [end if] after what it says."),
)


def plain_words(message: str) -> str:
    """An error about the source in the words of the plain form: its {{ field }}s as tokens,
    its if/else as the form's [if …] and [end if]."""
    for says, words in _BLOCK_WORDS:
        if says in message:
            return words
    message = _UNDEFINED.sub(lambda m: f"There is nothing called “{m[1]}” to fill in.", message)
    return _FIELD_IN_WORDS.sub(lambda m: token(m[1]) if m[1] in merge.FIELDS else m[0], message)


def look_at(
    session: Session,
    business: Business,
    kind: str,
    source: str,
    *,
    now: datetime,
    base_url: str,
    plain: bool = False,
) -> Draft:
    """The previews and gaps of a draft, or the reason it cannot be saved (in the plain
    form's words when the owner writes in it)."""
    try:
        previews = sample_previews(session, business, kind, source, now=now, base_url=base_url)
    except texts.TemplateError as exc:
        return Draft(source, error=plain_words(exc.message) if plain else exc.message)
    return Draft(source, previews=previews, gaps=gaps(kind, source, business.name))
