"""Broadcasts: how fast a broadcast goes out, against the dispatcher's own rate, and its pace.

(a) Pacing off: a broadcast to --recipients customers (PostgreSQL, --broadcast-workers
worker processes; SQLite: --sqlite-recipients, one worker) is created and drained by
Regulars' workers against the Twilio stand-in (the dispatch section's machinery: worker
processes, stand-in, checks). Its outbox rows are written as it advances, inside the
workers' runs (app.care.broadcasts.advance). Measured: the time to write its rows (creation
until the last recipient has a row or a skip, watched every 0.2 s), and its texts per second
(creation to the last text the stand-in took) against the same workers draining the same
number of manual texts queued beforehand (the reference, from "go" to the last text the
stand-in took), rounds alternating A B B A. Target: a ratio of at least 0.8.

(b) Pacing on: a broadcast of --paced-texts texts from a number configured for
--paced-rate texts a second (or the broadcast's own --paced-per-hour), drained by the same
workers. Measured from the stand-in's own moments for that number, over the steady part
(the middle 80% of its texts): texts per second. Target: never above the configured rate,
and within 5% below it. The rate is the least-squares slope of the texts' moments against
their order (a request's own way through HTTP, threads and a busy CPU moves each moment a
little; the ends of a span alone would carry that into the rate): above means faster than
the configured rate by more than two standard errors of that slope. The fastest
PEAK_WINDOW_SECONDS of the run is printed too (sends that were late catch up there).

The workers' clock is the real one moved to 18:00 UTC of today (dispatch_workers.OffsetClock):
every recipient (New York, Massachusetts, Illinois, Washington numbers) is inside their
sending window whenever the bench runs, and pacing and leases run at the real pace.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from . import dispatch_workers, outbox
from .common import BUSINESS_NUMBER, Bench, Section, abba, label, mark, say

TARGET_RATIO = 0.8
PACE_BELOW = 0.05  # the paced rate may fall this far below the configured one
PACED_NUMBER = "+12125550101"
STEADY = 0.1  # the share of a paced broadcast's first and last texts left out as ramp
PEAK_WINDOW_SECONDS = 5.0
BODY = "Sam joins the team on Monday: book a cut with her this month, {{ first_name }}."
VIRTUAL_HOUR = 18  # UTC: 1 PM in New York, 10 AM in Seattle (9 or 10 AM in summer time)


def add_arguments(group) -> None:
    group.add_argument(
        "--recipients",
        type=int,
        default=20000,
        help="broadcast recipients on PostgreSQL (the issue's figure: 100000)",
    )
    group.add_argument("--sqlite-recipients", type=int, default=3000)
    group.add_argument(
        "--broadcast-workers",
        type=int,
        default=4,
        help="worker processes on PostgreSQL (SQLite: 1)",
    )
    group.add_argument("--paced-texts", type=int, default=600)
    group.add_argument(
        "--paced-rate",
        type=float,
        default=20.0,
        help="the sending number's texts per second with pacing on",
    )
    group.add_argument(
        "--paced-per-hour",
        type=int,
        default=None,
        help="pace the broadcast itself (texts an hour) instead of the number",
    )
    group.add_argument("--broadcast-timeout", type=float, default=1800.0)


def clock_offset() -> float:
    """Seconds from now to VIRTUAL_HOUR UTC of today: the workers' clock reads that time."""
    now = datetime.now(UTC)
    target = now.replace(hour=VIRTUAL_HOUR, minute=0, second=0, microsecond=0)
    return (target - now).total_seconds()


def recipients_on(bench: Bench, kind: str) -> int:
    return bench.opts.sqlite_recipients if kind == "sqlite" else bench.opts.recipients


def engine_for(url: str) -> sa.Engine:
    from app.db import make_engine

    return make_engine(url)


class Audience:
    """The seed of every run: a business with the recipients, and a paced one."""

    def __init__(self, bench: Bench, offset: float):
        self.bench, self.offset = bench, offset

    def __call__(self, spec: dict) -> dict:
        kind = "sqlite" if spec["database_url"].startswith("sqlite") else "postgresql"
        opts = self.bench.opts
        n = recipients_on(self.bench, kind)
        say(f"  seeding {n} recipients and a paced business of {opts.paced_texts} on {kind}")
        return dispatch_workers.seed_audience(
            spec, now=dispatch_workers.OffsetClock(self.offset).now(),
            businesses=[
                {"name": "Bench Salon", "number": BUSINESS_NUMBER, "customers": n,
                 "send_rate_per_second": 1.0},
                {"name": "Paced Salon", "number": PACED_NUMBER, "customers": opts.paced_texts,
                 "send_rate_per_second": opts.paced_rate},
            ],
        )  # fmt: skip


class Launch:
    """A broadcast created the moment before the workers go, then watched until every
    recipient has a row or a skip."""

    def __init__(self, seeds: outbox.Seeds, kind: str, business: int, offset: float,
                 per_hour: int | None = None):  # fmt: skip
        self.seeds, self.kind, self.business = seeds, kind, business
        self.offset, self.per_hour = offset, per_hour
        self.engine: sa.Engine | None = None
        self.broadcast_id: int | None = None
        self.created_at = 0.0
        self.written_at: float | None = None
        self.progress: list[tuple[float, int]] = []  # (seconds since creation, assessed)

    def begin(self, url: str) -> None:
        from sqlmodel import Session

        from app.care import broadcasts
        from app.contract.commands import BroadcastCreate
        from app.models import Business

        self.engine = engine_for(url)
        data = BroadcastCreate.model_validate({"body": BODY, "title": "A new stylist",
                                               "per_hour": self.per_hour})  # fmt: skip
        with Session(self.engine) as session:
            business_id = self.seeds.seeded[self.kind]["business_ids"][self.business]
            business = session.get_one(Business, business_id)
            now = dispatch_workers.OffsetClock(self.offset).now()
            self.broadcast_id = broadcasts.create(session, business, data, now=now).id
            session.commit()
        self.created_at = time.time()

    def watch(self) -> None:
        if self.written_at is not None or self.engine is None:
            return
        with self.engine.connect() as conn:
            done, assessed = conn.execute(
                sa.text("SELECT next_batch_at IS NULL, eligible + skipped FROM broadcast "
                        "WHERE id = :id"), {"id": self.broadcast_id},
            ).one()  # fmt: skip
        at = time.time()
        self.progress.append((round(at - self.created_at, 2), assessed))
        if done:
            self.written_at = at

    def close(self) -> dict:
        """The broadcast's own figures, read once it is over."""
        self.watch()
        assert self.engine is not None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT state, eligible, skipped FROM broadcast WHERE id = :id"),
                {"id": self.broadcast_id},
            ).one()
        self.engine.dispose()
        return {"state": row.state, "eligible": row.eligible, "skipped": row.skipped}


def timed(one: dict, since: float) -> dict:
    """Texts per second from `since` (unix time) to the last text the stand-in took."""
    last = one["stand_in"]["last_at"]
    seconds = (last - since) if last else None
    rate = one["texts"] / seconds if seconds else None
    return {"seconds": round(seconds, 3) if seconds else None,
            "texts_per_second": round(rate, 1) if rate else None}  # fmt: skip


def manual_run(bench: Bench, standin, seeds, kind: str, workers: int, base: dict) -> dict:
    n = recipients_on(bench, kind)

    def queue(url: str) -> None:
        spec = {**base, "database_url": url}
        now = dispatch_workers.clock_of(spec).now()
        business_id = seeds.seeded[kind]["business_ids"][0]
        dispatch_workers.queue_manual(spec, business_id=business_id, now=now)

    run = outbox.Run(n, n, bench.opts.broadcast_timeout, spec=base, prepare=queue)
    one = outbox.drain(bench, standin, seeds, kind, workers, "regulars", run)
    return {**one, **timed(one, one["began_at"]), "dispatcher_texts_per_second":
            round(one["texts_per_second"] or 0, 1)}  # fmt: skip


def broadcast_run(bench: Bench, standin, seeds, kind: str, workers: int, base: dict, *,
                  business: int = 0, texts: int | None = None, per_hour: int | None = None,
                  pacing: bool = False) -> tuple[dict, Launch]:  # fmt: skip
    n = texts if texts is not None else recipients_on(bench, kind)
    launch = Launch(seeds, kind, business, base["clock_offset_seconds"], per_hour)
    spec = {**base, "until_broadcasts_done": True, "pacing": pacing}
    run = outbox.Run(n, n, bench.opts.broadcast_timeout, spec=spec, begin=launch.begin,
                     watch=launch.watch)  # fmt: skip
    one = outbox.drain(bench, standin, seeds, kind, workers, "regulars", run)
    one["broadcast"] = launch.close()
    if one["broadcast"]["state"] != "done" or one["broadcast"]["eligible"] != n:
        one["ok"] = False
        one["problems"].append(f"broadcast ended {one['broadcast']}, expected done, {n} texts")
    return one, launch


def steady_pace(times: list[float]) -> dict:
    """Texts per second over the middle of a paced run (the least-squares slope of the
    moments against their order, so one late or early request moves it little, with the
    slope's standard error), and the fastest PEAK_WINDOW_SECONDS of the whole run."""
    times = sorted(times)
    cut = int(len(times) * STEADY)
    middle = times[cut : len(times) - cut]
    peak, j = 0, 0
    for i, began in enumerate(times):
        while j < len(times) and times[j] < began + PEAK_WINDOW_SECONDS:
            j += 1
        peak = max(peak, j - i)
    out = {"texts": len(times), "steady_texts": len(middle),
           "peak_window_texts_per_second": round(peak / PEAK_WINDOW_SECONDS, 2)}  # fmt: skip
    if len(middle) < 3:
        return {**out, "texts_per_second": None, "error": None}
    n = len(middle)
    mean_i, mean_t = (n - 1) / 2, sum(middle) / n
    sxx = sum((i - mean_i) ** 2 for i in range(n))
    slope = sum((i - mean_i) * (t - mean_t) for i, t in enumerate(middle)) / sxx  # s per text
    residual = sum((t - mean_t - slope * (i - mean_i)) ** 2 for i, t in enumerate(middle))
    slope_error = (residual / (n - 2) / sxx) ** 0.5
    rate = 1 / slope
    return {**out, "steady_seconds": round(middle[-1] - middle[0], 3),
            "texts_per_second": round(rate, 3),
            "error": round(rate * slope_error / slope, 4)}  # fmt: skip


def run(bench: Bench) -> dict:
    opts = bench.opts
    offset = clock_offset()
    base = {"clock_offset_seconds": offset}
    results, paced = [], []
    audience = Audience(bench, offset)
    with outbox.StandIn(bench) as standin, outbox.Seeds(bench, audience, "broadcast") as seeds:
        for kind in bench.kinds:
            workers = 1 if kind == "sqlite" else opts.broadcast_workers
            n = recipients_on(bench, kind)
            runs: dict[str, list[dict]] = {"manual": [], "broadcast": []}
            for round_no, which in abba(opts.rounds, "broadcast", "manual"):
                say(f"broadcast: {n} texts, {which} on {kind} with {workers} worker(s) "
                    f"(round {round_no + 1}) ...")  # fmt: skip
                if which == "manual":
                    one = manual_run(bench, standin, seeds, kind, workers, base)
                else:
                    one, launch = broadcast_run(bench, standin, seeds, kind, workers, base)
                    one.update(timed(one, launch.created_at))
                    one["write_seconds"] = (round(launch.written_at - launch.created_at, 2)
                                            if launch.written_at else None)  # fmt: skip
                    one["write_progress"] = launch.progress[:: max(1, len(launch.progress) // 40)]
                    say(f"  rows written in {one['write_seconds']} s")
                runs[which].append(one)
                say(f"  {one['seconds']} s = {one['texts_per_second'] or 0:.0f} texts/s")
            if opts.rounds > 0:  # --rounds 0: only the paced broadcast
                results.append(combine(kind, workers, n, runs))
        for kind in bench.kinds:
            workers = 1 if kind == "sqlite" else opts.broadcast_workers
            rate = (opts.paced_per_hour / 3600.0 if opts.paced_per_hour
                    else opts.paced_rate)  # fmt: skip
            say(f"broadcast: {opts.paced_texts} texts paced at {rate:g}/s on {kind} "
                f"with {workers} worker(s) ...")  # fmt: skip
            one, _launch = broadcast_run(
                bench, standin, seeds, kind, workers, base, business=1, texts=opts.paced_texts,
                per_hour=opts.paced_per_hour, pacing=True,
            )  # fmt: skip
            pace = steady_pace(standin.call("GET", "/times").get(PACED_NUMBER, []))
            measured = pace["texts_per_second"] or 0.0
            # never above: not by more than two standard errors of the slope
            error = pace["error"] or 0.0
            meets = measured - 2 * error <= rate and measured >= rate * (1 - PACE_BELOW)
            say(f"  {measured:.3f} texts/s against {rate:g} configured")
            paced.append({"db": kind, "workers": workers, "configured_per_second": rate,
                          "by": "broadcast per_hour" if opts.paced_per_hour else "number",
                          **pace, "meets_target": meets, "ok": one["ok"], "run": one})  # fmt: skip
    every = [r["meets_target"] for r in results + paced]
    return {
        "config": {
            "recipients": opts.recipients,
            "sqlite_recipients": opts.sqlite_recipients,
            "rounds": opts.rounds,
            "paced_texts": opts.paced_texts,
            "clock_offset_seconds": round(offset),
        },  # fmt: skip
        "setups": results,
        "paced": paced,
        "ok": all(r["ok"] for r in results + paced),
        "targets_met": all(every) if every else None,
        "other_load": max(
            (r["other_load"] for r in results + [p["run"] for p in paced]), default=None
        ),
    }


def combine(kind: str, workers: int, n: int, runs: dict[str, list[dict]]) -> dict:
    """One setup's rounds: each side's texts over its seconds, and the ratio."""
    rates = {}
    for which, done in runs.items():
        seconds = sum(r["seconds"] or 0 for r in done)
        rates[which] = sum(r["texts"] for r in done) / seconds if seconds else None
    ratio = (rates["broadcast"] / rates["manual"]
             if rates["broadcast"] and rates["manual"] else None)  # fmt: skip
    writes = [r["write_seconds"] for r in runs["broadcast"] if r.get("write_seconds")]
    return {
        "db": kind,
        "workers": workers,
        "texts": n,
        "broadcast_texts_per_second": round(rates["broadcast"] or 0, 1),
        "manual_texts_per_second": round(rates["manual"] or 0, 1),
        "ratio": round(ratio, 3) if ratio else None,
        "write_seconds": max(writes) if writes else None,
        "meets_target": ratio is not None and ratio >= TARGET_RATIO,
        "ok": all(r["ok"] for done in runs.values() for r in done),
        "other_load": max(r["other_load"] for done in runs.values() for r in done),
        "runs": runs,
    }


def report(result: dict, bench: Bench) -> None:
    cfg = result["config"]
    print(f"  broadcast        pacing off: a broadcast against as many manual texts queued "
          f"beforehand, {cfg['rounds']} run(s) each, alternating")  # fmt: skip
    for s in result["setups"]:
        workers = f"{s['workers']} worker{'' if s['workers'] == 1 else 's'}"
        ratio = f"{s['ratio']:.2f}" if s["ratio"] is not None else "-"
        print(
            f"    {label(s['db']) + ':':<9} {s['texts']:>7,} recipients, {workers:<9} rows "
            f"written in {s['write_seconds'] or 0:.1f} s | broadcast "
            f"{s['broadcast_texts_per_second']:6.0f} texts/s | manual "
            f"{s['manual_texts_per_second']:6.0f} texts/s | ratio {ratio} (target >= "
            f"{TARGET_RATIO:g}) {mark(s['meets_target'])} | sent once each: "
            f"{'yes' if s['ok'] else 'NO'}  [other load {s['other_load']:.0%}]"
        )
    if result["paced"]:
        print(f"  broadcast paced  texts/s the stand-in took from the number, middle "
              f"{1 - 2 * STEADY:.0%} of {cfg['paced_texts']} texts")  # fmt: skip
    for p in result["paced"]:
        print(
            f"    {label(p['db']) + ':':<9} configured {p['configured_per_second']:g}/s "
            f"({p['by']}) | measured {p['texts_per_second'] or 0:.3f}/s "
            f"(+/- {p['error'] or 0:.3f}) | fastest "
            f"{PEAK_WINDOW_SECONDS:g} s {p['peak_window_texts_per_second']:g}/s | target: "
            f"never above, within {PACE_BELOW:.0%} below {mark(p['meets_target'])} | sent once "
            f"each: {'yes' if p['ok'] else 'NO'}"
        )


SECTION = Section(
    name="broadcast",
    help="a broadcast's texts/s against as many manual texts, and its pace with pacing on",
    run=run,
    report=report,
    add_arguments=add_arguments,
)
