"""The default texts in templates/sms/, rendered in a sandbox that sees only merge fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlmodel import col, select

from app.errors import Invalid
from app.models import BusinessTemplate


def _sms_templates() -> Path:
    """Where the default texts are: inside the installed package (a wheel maps the top-level
    templates/sms/ to app/templates/sms/), else in the checkout's top-level templates/sms/."""
    package = Path(__file__).resolve().parent.parent
    installed, checkout = package / "templates" / "sms", package.parent / "templates" / "sms"
    return installed if installed.is_dir() else checkout


SMS_TEMPLATES = _sms_templates()


class _TextSandbox(ImmutableSandboxedEnvironment):
    """No arithmetic: a text needs none, and `'x' * 10**9` would allocate a gigabyte."""

    intercepted_binops = frozenset({"*", "**", "//", "%", "+", "-", "/"})

    def call_binop(self, context, operator, left, right):
        raise SecurityError("templates cannot do arithmetic")


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    # autoescape off: these are texts, not HTML; undefined fields fail loudly at render time.
    return _TextSandbox(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)


@lru_cache(maxsize=64)
def default_source(kind: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", kind or ""):
        raise KeyError(f"no default text for {kind!r}")  # never a path from outside
    path = SMS_TEMPLATES / f"{kind}.txt"
    if not path.is_file():
        raise KeyError(f"no default text for {kind!r}")
    return path.read_text(encoding="utf-8")


# ---- what a text may contain ----------------------------------------------------------------

# A text is output, merge fields, literals, if/else and comparisons, the safe filters and tests.
# Nothing that can repeat or grow ({% set %}, loops, macros, calls, attributes, arithmetic,
# list literals), so what a text renders to is bounded by its source, checked before rendering.
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
    nodes.CondExpr, nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Concat,
)  # fmt: skip
SAFE_FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim"})
SAFE_TESTS = frozenset({"defined", "undefined", "none", "true", "false", "number", "string",
                        "eq", "ne", "equalto", "lt", "le", "gt", "ge", "in"})  # fmt: skip
# The longest value each merge field can have (the columns they come from), for the bound.
FIELD_LIMITS = {
    "first_name": 120, "name": 120, "customer_name": 120, "business_name": 120,
    "staff_name": 80, "review_link": 500, "referral_link": 200, "reward": 160,
    "next_opening": 40, "reason": 40, "customer_phone": 20, "business_phone": 20,
    "excerpt": 80, "unhappy": 5, "scale": 2, "offer": 160, "offers": 5,
    "visit_count": 8, "years": 10,
}  # fmt: skip
UNKNOWN_FIELD_LIMIT = 120
CASE_GROWTH = 3  # str.upper() can make one character three ("ΐ" -> "Ϊ́")
MAX_RENDER_CHARS = 1600  # Twilio's limit for one body: nothing longer is ever sent


class UnsafeTemplate(SecurityError):
    """A text using something a text cannot have; the message says what, for the owner."""


def _bound(node: nodes.Node) -> int:
    """The most characters `node` can render to, with every merge field at its longest."""
    if isinstance(node, nodes.TemplateData):
        return len(node.data)
    if isinstance(node, nodes.Const):
        return len(str(node.value))
    if isinstance(node, nodes.Name):
        return FIELD_LIMITS.get(node.name, UNKNOWN_FIELD_LIMIT)
    if isinstance(node, nodes.Concat):
        return sum(_bound(n) for n in node.nodes)
    if isinstance(node, nodes.CondExpr):
        return max(_bound(node.expr1), _bound(node.expr2) if node.expr2 else 0)
    if isinstance(node, nodes.And | nodes.Or):  # `a or b` is one of a and b
        return max(_bound(node.left), _bound(node.right))
    if isinstance(node, nodes.Filter):
        value = _bound(node.node) if node.node is not None else 0
        if node.name in {"default", "d"}:
            return max([value, *(_bound(arg) for arg in node.args)])
        return value * CASE_GROWTH if node.name != "trim" else value
    if isinstance(node, nodes.Not | nodes.Compare | nodes.Test):
        return 5  # True or False
    if isinstance(node, nodes.If):
        branches = [node.body, *(elif_.body for elif_ in node.elif_), node.else_]
        return max(sum(_bound(n) for n in body) for body in branches)
    if isinstance(node, nodes.Output | nodes.Template):
        return sum(_bound(n) for n in node.iter_child_nodes())
    raise UnsafeTemplate(f"templates cannot use {type(node).__name__}")


def _check_tree(tree: nodes.Template) -> None:
    """Refuse, before anything runs, every node outside ALLOWED_NODES."""
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.For | nodes.Macro | nodes.CallBlock):
            raise UnsafeTemplate("Texts can use merge fields and if/else, but not loops or macros.")
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            raise UnsafeTemplate("Texts can use merge fields and if/else, but not {% set %}.")
        if not isinstance(node, ALLOWED_NODES):
            raise UnsafeTemplate("Templates can only use merge fields, if/else and simple filters.")
        if isinstance(node, nodes.Filter | nodes.Test) and (
            node.name not in (SAFE_FILTERS if isinstance(node, nodes.Filter) else SAFE_TESTS)
            or node.kwargs
            or node.dyn_args
            or node.dyn_kwargs
        ):
            raise UnsafeTemplate("Templates can only use merge fields, if/else and simple filters.")


@dataclass(frozen=True)
class _Checked:
    template: Template
    fields: frozenset[str]  # the merge fields the text refers to
    bound: int  # the most it can render to, with every field at its longest


@lru_cache(maxsize=256)
def _checked(source: str) -> _Checked:
    """Parse, check and compile once per source. Raises TemplateSyntaxError or UnsafeTemplate."""
    environment = _environment()
    try:
        tree = environment.parse(source)
        _check_tree(tree)
        bound = _bound(tree)
    except RecursionError as exc:  # a thousand nested brackets
        raise UnsafeTemplate("This text is nested too deeply.") from exc
    referenced = frozenset(meta.find_undeclared_variables(tree))
    return _Checked(environment.from_string(tree), referenced, bound)


def parse(source: str) -> nodes.Template:
    """The text's syntax tree, as the sandbox reads it. Raises TemplateSyntaxError."""
    return _environment().parse(source)


class Deferred:
    """A merge-field value made only when a text uses it (a tracked link is a database row);
    made once, so every text rendered with the same fields shares it. `preview` stands in for
    it where nothing may be made (a page's preview), with the same length when it can; a
    value that is only costly (a phone written out) is its own preview."""

    def __init__(self, make: Callable[[], object], *, preview: str | None = ""):
        self._make, self._made = make, False
        self._value: object = None
        self._preview = preview

    @property
    def preview(self) -> str:
        """The stand-in; the value itself when making it changes nothing (`preview=None`)."""
        return str(self.value()) if self._preview is None else self._preview

    def value(self) -> object:
        if not self._made:
            self._value, self._made = self._make(), True
        return self._value


class TooLong(ValueError):
    """A text rendered longer than it may be."""


def fields_used(source: str) -> frozenset[str]:
    """The merge fields a text refers to. Raises TemplateSyntaxError or UnsafeTemplate."""
    return _checked(source).fields


def render_text(
    source: str, fields: Mapping[str, object], *, limit: int = MAX_RENDER_CHARS, fold: bool = True
) -> str:
    """Render any text (a saved template or what the owner typed) in the sandbox, with only
    these merge fields: whitespace folded to one line (`fold`), else only trimmed. Deferred
    values are made only if the text uses them. Bounded: the text is checked before it runs
    (no loops, no {% set %}, no arithmetic), and rendering stops as soon as the output passes
    `limit` (TooLong). Raises TemplateSyntaxError, UnsafeTemplate (a SecurityError) or
    UndefinedError (a field the text uses is not in `fields`) too."""
    checked = _checked(source)
    values = {
        name: value.value() if isinstance(value, Deferred) else value
        for name, value in fields.items()
        if name in checked.fields
    }
    pieces, size = [], 0
    for piece in checked.template.generate(**values):
        size += len(piece)
        if size > limit * 2:  # folding whitespace can only shrink it; stop well before then
            raise TooLong(f"This text is longer than {limit} characters.")
        pieces.append(piece)
    text = "".join(pieces)
    text = " ".join(text.split()) if fold else text.strip()
    if len(text) > limit:
        raise TooLong(f"This text is longer than {limit} characters.")
    return text


def render_source(source: str, **fields) -> str:
    """Render template source with only the given merge fields; whitespace folded to one line."""
    return render_text(source, fields)


def render(kind: str, **fields) -> str:
    return render_source(default_source(kind), **fields)


# ---- a business's own copies -------------------------------------------------------------

# The merge fields each kind of text may use; an owner's template may use no others.
MERGE_FIELDS: dict[str, tuple[str, ...]] = {
    "thank_you": ("first_name", "business_name", "staff_name"),
    "review_request": ("first_name", "business_name", "staff_name", "review_link"),
    "review_reminder": ("first_name", "business_name", "staff_name", "review_link"),
    "feedback_question": ("first_name", "business_name", "staff_name", "scale"),
    "feedback_thanks": ("first_name", "business_name", "review_link", "unhappy"),
    "effort_question": ("first_name", "business_name"),
    "referral_ask": ("first_name", "business_name", "referral_link", "offer"),
    "referral_reward": ("first_name", "business_name", "reward"),
    "milestone_thank_you": ("first_name", "business_name", "staff_name", "visit_count", "reward"),
    "anniversary": ("first_name", "business_name", "years", "offer"),
    "birthday": ("first_name", "business_name", "offer"),
    "winback": ("first_name", "business_name", "offer"),
    "after_hours": ("business_name", "next_opening"),
    "missed_call": ("business_name",),
    "help": ("business_name", "business_phone"),
    "owner_alert": ("reason", "customer_name", "customer_phone", "excerpt", "link"),
}
EDITABLE_KINDS = tuple(MERGE_FIELDS)
MAX_TEMPLATE_CHARS = 640
MAX_RENDERED_CHARS = 640  # about four segments with the long sample values (Twilio allows 1600)


class TemplateError(Invalid):
    """An owner's template that cannot be saved: the one Invalid, always about the template's
    body, with its own code; the message says why, for the owner."""

    def __init__(self, message: str):
        super().__init__("body", message, code="invalid_template")


def sample_fields(business_name: str = "Bloom Hair Studio") -> dict:
    """Long, real-world values: a template that fits with these fits in practice."""
    return {
        "first_name": "Christopher",
        "customer_name": "Christopher Montgomery",
        "customer_phone": "(212) 555-0123",
        "business_name": business_name,
        "business_phone": "(212) 555-0100",
        "staff_name": "Alexandra",
        "review_link": "https://regulars.example/l/Xk3d9QpL2mZt",
        "referral_link": "https://regulars.example/r/CHRIS42",
        "reward": "You've earned $10 off your next visit.",
        "offer": "15% off their first visit with us, any service, any day of the week",
        "next_opening": "9:00 AM Monday",
        "reason": "unhappy reply from",
        "excerpt": "The color came out much darker than we agreed and nobody called me back",
        "link": "https://regulars.example/l/Xk3d9QpL2mZt",
        "unhappy": False,
        "scale": 5,
        "visit_count": "10th",
        "years": "2 years",
    }


def validate_source(kind: str, source: str, business_name: str = "Bloom Hair Studio", *,
                    allowed: Sequence[str] | None = None) -> str:  # fmt: skip
    """Render `source` with sample values; raise TemplateError with a reason if it cannot.
    `allowed`: the merge fields of a text that is not one of the saved ones (a broadcast)."""
    if allowed is None and kind not in MERGE_FIELDS:
        raise TemplateError(f"There is no text called {kind!r}.")
    names_allowed = tuple(allowed) if allowed is not None else MERGE_FIELDS[kind]
    if not source.strip():
        raise TemplateError("The text is empty.")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"Keep the template under {MAX_TEMPLATE_CHARS} characters.")
    fields = {k: v for k, v in sample_fields(business_name).items() if k in names_allowed}
    try:
        # Checked before it runs: nothing that repeats or grows, and short enough with every
        # field at its longest, so a saved text can always be sent and never blows up memory.
        bound = _checked(source).bound
        if bound > MAX_RENDER_CHARS:
            raise TemplateError(
                f"With the longest names and links this text could be {bound} characters; "
                f"a text can be at most {MAX_RENDER_CHARS}."
            )
        rendered = render_source(source, **fields)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Line {exc.lineno}: {exc.message}") from exc
    except UndefinedError as exc:
        names = ", ".join("{{ " + f + " }}" for f in names_allowed)
        raise TemplateError(f"{exc.message}. This text can use: {names}.") from exc
    except UnsafeTemplate as exc:
        raise TemplateError(str(exc)) from exc
    except SecurityError as exc:
        raise TemplateError("Templates can only use merge fields.") from exc
    except Exception as exc:  # noqa: BLE001 - any other render failure is the template's fault
        raise TemplateError(f"This template cannot be rendered: {exc}") from exc
    if not rendered:
        raise TemplateError("The text renders as nothing.")
    if len(rendered) > MAX_RENDERED_CHARS:
        raise TemplateError(
            f"With long names this text is {len(rendered)} characters; keep it under "
            f"{MAX_RENDERED_CHARS} so it can be sent."
        )
    return rendered


def business_source(session, business_id: int, kind: str) -> str:
    """The business's own copy of a text if it has one, else the default."""
    override = session.exec(
        select(col(BusinessTemplate.body)).where(
            col(BusinessTemplate.business_id) == business_id, col(BusinessTemplate.kind) == kind
        )
    ).first()
    return override if override is not None else default_source(kind)


def fields_of_kind(kind: str, fields: Mapping[str, object], business_name: str) -> dict:
    """The merge fields a text of `kind` may use out of `fields` (as when it was saved)."""
    if kind in MERGE_FIELDS:
        fields = {name: value for name, value in fields.items() if name in MERGE_FIELDS[kind]}
    return {"business_name": business_name, **fields}


def render_for(session, business, kind: str, **fields) -> str:
    """Render the business's text of this kind with the merge fields that kind may use (as
    when it was saved); a broken copy falls back to the default."""
    fields = fields_of_kind(kind, fields, business.name)
    source = business_source(session, business.id, kind)
    try:
        return render_source(source, **fields)
    except Exception:  # noqa: BLE001 - saved templates were checked; never lose a text over one
        return render(kind, **fields)


def save_template(session, business, kind: str, source: str, *, now):
    """Check and store a business's copy of a text (not committed). Raises TemplateError."""
    validate_source(kind, source, business.name)
    row = session.exec(
        select(BusinessTemplate).where(
            col(BusinessTemplate.business_id) == business.id, col(BusinessTemplate.kind) == kind
        )
    ).first()
    if row is None:
        row = BusinessTemplate(business_id=business.id, kind=kind, body=source, updated_at=now)
    row.body, row.updated_at = source, now
    session.add(row)
    return row


def reset_template(session, business, kind: str) -> bool:
    """Go back to the default text; returns False when there was no copy (not committed)."""
    row = session.exec(
        select(BusinessTemplate).where(
            col(BusinessTemplate.business_id) == business.id, col(BusinessTemplate.kind) == kind
        )
    ).first()
    if row is None:
        return False
    session.delete(row)
    return True
