"""The default texts in templates/sms/, rendered in a sandbox that sees only merge fields."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

SMS_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "sms"


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    # autoescape off: these are texts, not HTML; undefined fields fail loudly at render time.
    return ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
    )


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
