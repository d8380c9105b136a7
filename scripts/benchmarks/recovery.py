"""Worker recovery: a real `regulars worker` is killed with SIGKILL mid-batch while a Twilio
stand-in holds some of its requests; another starts. The figure is the time from the kill
until the last of the batch is settled, and the check is that every text was created once.
The scenario itself is scripts/bench_recovery.py (also run by the test suite).
"""

from __future__ import annotations

import importlib.util
from functools import cache

from .common import ROOT, Bench, Section, label, say


@cache
def _scenario():
    spec = importlib.util.spec_from_file_location(
        "bench_recovery", ROOT / "scripts" / "bench_recovery.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(bench: Bench) -> dict:
    scenario = _scenario()
    runs = []
    for kind in bench.kinds:
        say(f"worker recovery: {bench.opts.recovery_texts} texts, a worker killed on {kind} ...")
        url = scenario._fresh_database(bench.opts.pg_url if kind == "postgresql" else None,
                                       bench.workdir)  # fmt: skip
        result = scenario.kill_mid_batch(url, texts=bench.opts.recovery_texts,
                                         workdir=bench.workdir)  # fmt: skip
        runs.append({"db": kind, **result})
    return {
        "runs": runs,
        "ok": all(r["exactly_once"] for r in runs),
        "targets_met": all(r["meets_target"] for r in runs),
        "other_load": None,
    }


def report(result: dict, bench: Bench) -> None:
    for r in result["runs"]:
        settled = "never" if r["settle_seconds"] is None else f"{r['settle_seconds']:.1f} s"
        print(
            f"  worker recovery  {label(r['db'])}: {r['texts']} texts settled {settled} after "
            f"SIGKILL (target < {_scenario().TARGET_SECONDS:.0f} s), "
            f"{r['unanswered_at_kill']} unanswered at the kill, {r['duplicates']} sent twice"
            f"{'' if r['meets_target'] else '  MISS'}"
        )


def add_arguments(group) -> None:
    group.add_argument("--recovery-texts", type=int, default=20,
                       help="texts in the batch the killed worker holds")  # fmt: skip


SECTION = Section("recovery", "a worker killed mid-batch: seconds until its texts settle",
                  run, report, add_arguments)  # fmt: skip
