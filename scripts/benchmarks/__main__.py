"""Regulars' benchmark: scripts/bench [SECTION ...] [options].

Runs the sections named (all of them when none is), prints a table and a JSON summary (also
written to artifacts/bench.json). Exits 1 when a correctness check fails (a text lost or
sent twice, a non-200 answer); a missed speed target is reported, not an error. Every speed
figure is a ratio against a reference run the same way in the same run, because a shared
machine's speed moves between runs.

PostgreSQL: --pg-url or BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bench).
The database is created when the server does not have it; its public schema is dropped and
recreated for every run, so never point it at data you keep.

To add a section: write a module here with a `SECTION = common.Section(...)` (see
common.py for what `run` returns) and add it to SECTIONS below.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from . import (
    broadcast,
    dashboard,
    dispatch,
    inbound,
    inbound_profile,
    memory,
    pages,
    recovery,
    regulars,
)
from .common import (
    DEFAULT_PG,
    KINDS,
    NOISY,
    PROCS,
    ROOT,
    Bench,
    BenchError,
    count_rows,
    cpu_probe_ms,
    ensure_postgres_database,
    postgres_dbname,
    render_url,
    say,
)

# Every section, in the order a full run takes them. The one place a new section is named.
SECTIONS = {
    s.name: s
    for s in (
        inbound.SECTION,
        inbound_profile.SECTION,
        dispatch.SECTION,
        broadcast.SECTION,
        memory.SECTION,
        pages.SECTION,
        dashboard.SECTION,
        regulars.SECTION,
        recovery.SECTION,
    )
}


def parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<10} {s.help}" for name, s in SECTIONS.items())
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__.split("\n\n")[1],
        epilog=f"sections:\n{listing}\n\nexample: scripts/bench inbound dispatch --db sqlite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sections", nargs="*", metavar="SECTION", help="sections to run (default: all)")
    shared = p.add_argument_group("every section")
    shared.add_argument("--db", choices=[*KINDS, "both"], default="both")
    shared.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG),
        help="PostgreSQL database for the runs (made if missing; its schema is wiped)",
    )
    shared.add_argument(
        "--rounds", type=int, default=2, help="runs per app and setup, alternating (A B B A)"
    )
    shared.add_argument("--json", default=str(ROOT / "artifacts" / "bench.json"))
    shared.add_argument("--keep", action="store_true", help="keep the work directory")
    outbox = p.add_argument_group("the outbox (dispatch, memory)")
    outbox.add_argument("--texts", type=int, default=3000, help="texts queued per run")
    outbox.add_argument("--customers", type=int, default=300)
    outbox.add_argument(
        "--worker-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log in Regulars' workers as `regulars worker` does (INFO, to a file); default on",
    )
    for section in SECTIONS.values():
        if section.add_arguments is not None:
            section.add_arguments(p.add_argument_group(section.name))
    return p


def prepare_postgres(p: argparse.ArgumentParser, url: str) -> None:
    """Refuse a database that is not ours to wipe, make it if missing, and check we get in."""
    dbname = postgres_dbname(url)
    if dbname in {"test", None, ""}:
        p.error(f"refusing to use the PostgreSQL database {dbname!r}: give --pg-url")
    try:
        if ensure_postgres_database(url):
            say(f"created the PostgreSQL database {dbname!r} on {render_url(url)}")
        count_rows(url, "SELECT 1")
    except BenchError as exc:
        p.error(str(exc))
    except Exception as exc:
        p.error(f"cannot use PostgreSQL at {render_url(url)}: {exc}")


def verdict(results: dict) -> tuple[bool, bool]:
    """(every check passed, every target met) over the sections that ran."""
    checks = [r["ok"] for r in results.values()]
    targets = [r["targets_met"] for r in results.values() if r.get("targets_met") is not None]
    return all(checks), all(targets)


def print_table(summary: dict, results: dict, bench: Bench) -> None:
    machine = summary["machine"]
    print()
    print(
        f"Regulars bench  {machine['cpus']} CPUs, load {machine['load_before']}, CPU probe "
        f"{machine['cpu_probe_ms_before']:g}/{machine.get('cpu_probe_ms_after', 0):g} ms  |  "
        f"sections: {' '.join(results)}  |  {summary['elapsed_s']:g} s"
    )
    for name, result in results.items():
        print()
        SECTIONS[name].report(result, bench)
    others = [r["other_load"] for r in results.values() if r.get("other_load") is not None]
    if others and max(others) > NOISY:
        print()
        print(
            f"  note: processes outside this bench used up to {max(others):.0%} of the CPUs "
            "during a run; those numbers are less reliable (rerun on a quiet machine)."
        )
    print()


def main(argv: list[str] | None = None) -> int:
    p = parser()
    opts = p.parse_args(argv)
    unknown = [name for name in opts.sections if name not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    names = list(dict.fromkeys(opts.sections)) or list(SECTIONS)
    kinds = list(KINDS) if opts.db == "both" else [opts.db]
    if "postgresql" in kinds and any("postgresql" in SECTIONS[n].kinds for n in names):
        prepare_postgres(p, opts.pg_url)

    def _terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="regulars-bench-"))
    started = time.monotonic()
    summary: dict = {
        "version": 2,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sections": names,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_before": round(os.getloadavg()[0], 2),
            "cpu_probe_ms_before": cpu_probe_ms(),
        },
        "config": {
            "db": kinds,
            "rounds": opts.rounds,
            "pg_url": render_url(opts.pg_url) if "postgresql" in kinds else None,
        },
    }
    results: dict[str, dict] = {}
    try:
        for name in names:
            section = SECTIONS[name]
            bench = Bench(opts, [k for k in kinds if k in section.kinds], workdir)
            results[name] = section.run(bench)
    except KeyboardInterrupt:
        say("interrupted: stopping the servers")
        return 130
    except BenchError as exc:
        say(f"bench failed: {exc}")
        return 2
    except Exception:
        say(traceback.format_exc())
        say("bench failed (see above); every server it started has been stopped")
        return 2
    finally:
        PROCS.stop_all()
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"work directory kept: {workdir}")
    summary.update(results)
    summary["ok"], summary["targets_met"] = verdict(results)
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    summary["machine"]["cpu_probe_ms_after"] = cpu_probe_ms()
    print_table(summary, results, Bench(opts, kinds, workdir))
    out = Path(opts.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, separators=(",", ":")))
    say(f"summary written to {out} ({summary['elapsed_s']} s)")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
