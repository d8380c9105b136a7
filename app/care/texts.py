"""The default texts in templates/sms/, rendered in a sandbox that sees only merge fields."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlmodel import select

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

    intercepted_binops = frozenset({"*", "**", "//", "%"})

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


@lru_cache(maxsize=256)
def _compiled(source: str):
    return _environment().from_string(source)


def render_source(source: str, **fields) -> str:
    """Render template source with only the given merge fields; whitespace folded to one line."""
    text = _compiled(source).render(**fields)
    return " ".join(text.split())


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
    "referral_ask": ("first_name", "business_name", "referral_link"),
    "referral_reward": ("first_name", "business_name", "reward"),
    "after_hours": ("business_name", "next_opening"),
    "missed_call": ("business_name",),
    "help": ("business_name", "business_phone"),
    "owner_alert": ("reason", "customer_name", "customer_phone", "excerpt"),
}
EDITABLE_KINDS = tuple(MERGE_FIELDS)
MAX_TEMPLATE_CHARS = 640
SAFE_FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim"})
MAX_RENDERED_CHARS = 640  # about four segments with the long sample values (Twilio allows 1600)


class TemplateError(ValueError):
    """An owner's template that cannot be saved; the message says why, for the owner."""


def sample_fields(business_name: str = "Bloom Hair Studio") -> dict:
    """Long, real-world values: a template that fits with these fits in practice."""
    return {
        "first_name": "Christopher",
        "customer_name": "Christopher Montgomery",
        "customer_phone": "+12125550123",
        "business_name": business_name,
        "business_phone": "+12125550100",
        "staff_name": "Alexandra",
        "review_link": "https://regulars.example/l/Xk3d9QpL2mZt",
        "referral_link": "https://regulars.example/r/CHRIS42",
        "reward": "You've earned $10 off your next visit.",
        "next_opening": "9:00 AM Monday",
        "reason": "unhappy reply from",
        "excerpt": "The color came out much darker than we agreed and nobody called me back",
        "unhappy": False,
        "scale": 5,
    }


def validate_source(kind: str, source: str, business_name: str = "Bloom Hair Studio") -> str:
    """Render `source` with sample values; raise TemplateError with a reason if it cannot."""
    if kind not in MERGE_FIELDS:
        raise TemplateError(f"There is no text called {kind!r}.")
    if not source.strip():
        raise TemplateError("The text is empty.")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"Keep the template under {MAX_TEMPLATE_CHARS} characters.")
    allowed = set(MERGE_FIELDS[kind])
    fields = {k: v for k, v in sample_fields(business_name).items() if k in allowed}
    try:
        tree = _environment().parse(source)
        if any(True for _ in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock))):
            raise TemplateError("Texts can use merge fields and if/else, but not loops or macros.")
        # Calls and most filters can allocate without bound ('x'|center(2000000000)).
        if any(True for _ in tree.find_all(nodes.Call)) or any(
            f.name not in SAFE_FILTERS for f in tree.find_all(nodes.Filter)
        ):
            raise TemplateError("Templates can only use merge fields, if/else and simple filters.")
        rendered = render_source(source, **fields)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Line {exc.lineno}: {exc.message}") from exc
    except UndefinedError as exc:
        names = ", ".join("{{ " + f + " }}" for f in MERGE_FIELDS[kind])
        raise TemplateError(f"{exc.message}. This text can use: {names}.") from exc
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
        select(BusinessTemplate.body).where(
            BusinessTemplate.business_id == business_id, BusinessTemplate.kind == kind
        )
    ).first()
    return override if override is not None else default_source(kind)


def render_for(session, business, kind: str, **fields) -> str:
    """Render the business's text of this kind; a broken copy falls back to the default."""
    source = business_source(session, business.id, kind)
    fields.setdefault("business_name", business.name)
    try:
        return render_source(source, **fields)
    except Exception:  # noqa: BLE001 - saved templates were checked; never lose a text over one
        return render(kind, **fields)


def save_template(session, business, kind: str, source: str, *, now):
    """Check and store a business's copy of a text (not committed). Raises TemplateError."""
    validate_source(kind, source, business.name)
    row = session.exec(
        select(BusinessTemplate).where(
            BusinessTemplate.business_id == business.id, BusinessTemplate.kind == kind
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
            BusinessTemplate.business_id == business.id, BusinessTemplate.kind == kind
        )
    ).first()
    if row is None:
        return False
    session.delete(row)
    return True
