"""Dispatcher: Regulars' worker against a reference sender, texts per second as a ratio.

`--texts` manual texts are queued for customers with consent, then drained by worker
processes against a local stand-in for Twilio's API (standin.py): once by Regulars (each
process its own Dispatcher, pacing off, logging as `regulars worker` does unless
--no-worker-log) and once by the reference sender (dispatch_workers.reference_worker:
claim, post, mark sent; no rules). Both use the same outbox table, the same stand-in, the
same number of processes, the same batch size and the same number of sends in flight per
process (WORKER_CONCURRENCY). Runs go A B B A per setup (SQLite with 1 worker, PostgreSQL
with each of --pg-workers), because the machine's speed moves between runs; the ratio is
Regulars' texts/s over the reference's. Every text must reach the stand-in exactly once and
end `sent`, for both senders.
"""

from __future__ import annotations

from . import outbox
from .common import Bench, Section, abba, label, mark, say

TARGET_SQLITE_TEXTS_PER_S = 500.0  # the absolute figure earlier issues asked for


def add_arguments(group) -> None:
    group.add_argument(
        "--pg-workers", type=int, nargs="+", default=[1, 4], help="worker processes on PostgreSQL"
    )
    group.add_argument("--dispatch-timeout", type=float, default=90.0)


def setups(bench: Bench) -> list[tuple[str, int]]:
    plan = [("sqlite", 1)] if "sqlite" in bench.kinds else []
    if "postgresql" in bench.kinds:
        plan += [("postgresql", w) for w in bench.opts.pg_workers]
    return plan


def combine(runs: list[dict]) -> dict:
    """One sender's rounds on one setup: texts over all drained seconds."""
    texts = sum(r["texts"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {
        "texts_per_second": round(texts / seconds, 1) if seconds > 0 else None,
        "seconds": round(seconds, 3),
        "texts": texts,
        "rounds": [
            {k: r[k] for k in ("texts_per_second", "seconds", "other_load", "cpu_probe_ms")}
            for r in runs
        ],
        "max_rss_mib": max(m for r in runs for m in r["max_rss_mib"]),
        "worker_cpu_ms_per_text": round(
            sum(sum(r["worker_cpu_seconds"]) for r in runs) * 1000 / max(1, texts), 3
        ),
        "other_load": max(r["other_load"] for r in runs),
        "ok": all(r["ok"] for r in runs),
        "problems": [p for r in runs for p in r["problems"]],
        "runs": runs,
    }


def run(bench: Bench) -> dict:
    results = []
    with outbox.StandIn(bench) as standin, outbox.Seeds(bench) as seeds:
        for kind, workers in setups(bench):
            runs: dict[str, list[dict]] = {"reference": [], "regulars": []}
            for round_no, sender in abba(bench.opts.rounds, "reference", "regulars"):
                say(
                    f"dispatcher: {bench.opts.texts} texts, {sender} on {kind} with {workers} "
                    f"worker(s) (round {round_no + 1}) ..."
                )
                one = outbox.drain(bench, standin, seeds, kind, workers, sender)
                runs[sender].append(one)
                say(
                    f"  {one['seconds']:.2f} s = {one['texts_per_second'] or 0:.0f} texts/s, "
                    f"other load {one['other_load']:.0%}"
                )
            reg, ref = combine(runs["regulars"]), combine(runs["reference"])
            ratio = (
                reg["texts_per_second"] / ref["texts_per_second"]
                if reg["texts_per_second"] and ref["texts_per_second"]
                else None
            )
            target = TARGET_SQLITE_TEXTS_PER_S if kind == "sqlite" else None
            results.append(
                {
                    "db": kind,
                    "workers": workers,
                    "regulars": reg,
                    "reference": ref,
                    "ratio": round(ratio, 3) if ratio is not None else None,
                    "target_texts_per_second": target,
                    "meets_targets": (reg["texts_per_second"] or 0) >= target if target else None,
                    "ok": reg["ok"] and ref["ok"],
                }
            )
    first = results[0]["regulars"]["runs"][0] if results else {}
    targets = [r["meets_targets"] for r in results if r["meets_targets"] is not None]
    return {
        "config": {
            "texts": bench.opts.texts,
            "customers": bench.opts.customers,
            "rounds": bench.opts.rounds,
            "batch_size": first.get("batch_size"),
            "in_flight_per_worker": first.get("in_flight_per_worker"),
            "worker_log": bench.opts.worker_log,
        },
        "setups": results,
        "ok": all(r["ok"] for r in results),
        "targets_met": all(targets) if targets else None,
        "other_load": max(
            (r[s]["other_load"] for r in results for s in ("regulars", "reference")), default=None
        ),
    }


def report(result: dict, bench: Bench) -> None:
    cfg = result["config"]
    print(
        f"  dispatcher       {cfg['texts']} texts to {cfg['customers']} customers, batches of "
        f"{cfg['batch_size']}, {cfg['in_flight_per_worker']} sends in flight per worker, "
        f"{cfg['rounds']} run(s) per sender, alternating"
    )
    for setup in result["setups"]:
        reg, ref = setup["regulars"], setup["reference"]
        workers = f"{setup['workers']} worker{'' if setup['workers'] == 1 else 's'}"
        target = setup["target_texts_per_second"]
        verdict = ""
        if target:
            verdict = f"  (target >= {target:g} texts/s)  {mark(setup['meets_targets'])}"
        ratio = f"{setup['ratio']:.2f}" if setup["ratio"] is not None else "-"
        print(
            f"    {label(setup['db']) + ':':<9} {workers:<9} regulars "
            f"{reg['texts_per_second'] or 0:6.0f} texts/s | reference "
            f"{ref['texts_per_second'] or 0:6.0f} texts/s | ratio {ratio} | sent once each: "
            f"{'yes' if setup['ok'] else 'NO'}{verdict}"
            f"  [other load {max(reg['other_load'], ref['other_load']):.0%}]"
        )


SECTION = Section(
    name="dispatch",
    help="dispatcher throughput: Regulars' worker vs a bare claim-post-mark sender (texts/s)",
    run=run,
    report=report,
    add_arguments=add_arguments,
)
