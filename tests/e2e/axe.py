"""axe-core, the accessibility engine, injected into pages the browser tests visit.

Its code is never committed: the pinned version is installed from the npm registry with the
machine's npm into .venv/ the first time the browser tests run. Without npm (or the
network) the axe check is skipped with a note; under CI=true that fails instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

AXE_VERSION = "4.14.1"
CACHE = Path(__file__).resolve().parents[2] / ".venv" / "npm" / f"axe-core-{AXE_VERSION}"
SCRIPT = CACHE / "node_modules" / "axe-core" / "axe.min.js"
# What fails a page: axe's two worst impacts ("moderate" and "minor" are reported by axe
# but left to judgement).
FAILING_IMPACTS = ("serious", "critical")


def install() -> tuple[Path | None, str]:
    """(axe.min.js, "") once installed, else (None, why not)."""
    if SCRIPT.exists():
        return SCRIPT, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is missing (apt-get install npm), so axe-core cannot be installed"
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
               "--loglevel=error", f"axe-core@{AXE_VERSION}"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"npm install axe-core@{AXE_VERSION} failed: {exc}"
    if done.returncode != 0 or not SCRIPT.exists():
        return None, f"npm install axe-core@{AXE_VERSION} failed: {done.stderr.strip()[-500:]}"
    return SCRIPT, ""


@functools.cache
def _source(script: Path) -> str:
    return script.read_text(encoding="utf-8")


def required() -> bool:
    return os.environ.get("CI") == "true"


RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) =>
      n.target.join(' ') + ': ' + n.failureSummary.split('\\n').slice(1).join(' ').trim()),
  }));
}"""


def violations(page, script: Path) -> list[str]:
    """The page's serious and critical axe violations, one line each with where they are.

    The engine is evaluated in the page rather than added as a <script> tag: the app's own
    Content-Security-Policy (scripts from 'self' only) rightly refuses an inline script, and
    the check must see the pages exactly as they are served. A page with JavaScript off is
    not checked: axe waits on timers that do not run there (the same markup is checked with
    JavaScript on)."""
    if getattr(page.context, "javascript_enabled", True) is False:
        return []
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source(script))
    found = page.evaluate(RUN)
    return [
        f"axe {v['impact']} {v['id']} ({v['help']}): " + " | ".join(v["nodes"])
        for v in found
        if v["impact"] in FAILING_IMPACTS
    ]
