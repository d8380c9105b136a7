"""What every page must be on a phone, checked in the browser: tap targets of at least 44 px,
a label on every input, readable contrast (WCAG AA), and nothing wider than the screen."""

from __future__ import annotations

from pathlib import Path

AUDIT_JS = (Path(__file__).with_name("audit.js")).read_text()


def audit(page) -> list[str]:
    """Problems on the page as it is now, at 390 px and at 375 px wide."""
    problems = page.evaluate(AUDIT_JS)
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": size["height"]})
    problems += [f"at 375 px: {p}" for p in page.evaluate(AUDIT_JS) if "wide on a" in p]
    page.set_viewport_size(size)
    return problems
