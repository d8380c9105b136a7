"""What every page must be on a phone, checked in the browser: tap targets of at least 44 px,
a label on every input, readable contrast (WCAG AA), nothing wider than the screen, and no
serious or critical violation by axe-core (tests/e2e/axe.py)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import axe

AUDIT_JS = (Path(__file__).with_name("audit.js")).read_text()
# axe-core's script, set for the run by tests/e2e/conftest.py (None: not installed here).
AXE: dict[str, Path | None] = {"script": None}


def audit(page) -> list[str]:
    """Problems on the page as it is now, at 390 px and at 375 px wide, and axe-core's
    serious and critical violations."""
    problems = page.evaluate(AUDIT_JS)
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": size["height"]})
    problems += [f"at 375 px: {p}" for p in page.evaluate(AUDIT_JS) if "wide on a" in p]
    page.set_viewport_size(size)
    if AXE["script"] is not None:
        problems += axe.violations(page, AXE["script"])
    return problems
