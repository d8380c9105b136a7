"""Worker memory: how big one `regulars worker` process is after start-up and at its peak
while it drains `--texts` queued texts (the same outbox and stand-in as the dispatch
section), on each database. The operator sizes worker machines from this figure.
"""

from __future__ import annotations

from . import outbox
from .common import Bench, Section, label, say


def run(bench: Bench) -> dict:
    runs = []
    with outbox.StandIn(bench) as standin, outbox.Seeds(bench) as seeds:
        for kind in bench.kinds:
            say(f"worker memory: one Regulars worker drains {bench.opts.texts} texts on {kind} ...")
            one = outbox.drain(bench, standin, seeds, kind, 1, "regulars")
            say(f"  peak RSS {max(one['max_rss_mib']):.0f} MiB")
            runs.append(one)
    return {
        "worker_ready_rss_mib": max((m for r in runs for m in r["rss_ready_mib"]), default=None),
        "worker_peak_rss_mib": max((m for r in runs for m in r["max_rss_mib"]), default=None),
        "runs": runs,
        "ok": all(r["ok"] for r in runs),
        "targets_met": None,
        "other_load": max((r["other_load"] for r in runs), default=None),
    }


def report(result: dict, bench: Bench) -> None:
    per_run = ", ".join(
        f"{label(r['db'])} {max(r['rss_ready_mib']):.0f} -> {max(r['max_rss_mib']):.0f} MiB"
        for r in result["runs"]
    )
    print(
        f"  worker memory    peak RSS {result['worker_peak_rss_mib']:.0f} MiB after "
        f"{bench.opts.texts} texts (after start-up -> peak: {per_run}), sent once each: "
        f"{'yes' if result['ok'] else 'NO'}"
    )


SECTION = Section(
    name="memory",
    help="peak memory (RSS) of one Regulars worker process while it drains the outbox",
    run=run,
    report=report,
)
