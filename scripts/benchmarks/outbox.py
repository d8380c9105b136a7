"""Fill an outbox and drain it from worker processes against the Twilio stand-in, with the
checks every drain must pass: each text reached the stand-in exactly once and ended `sent`.

Shared by the dispatch section (Regulars against the reference sender), the memory section
(how big a Regulars worker grows while it drains) and the broadcast section (a broadcast's
texts, written as it advances, against the same number of manual texts queued beforehand).

The outbox is filled once per database through the app's own `queue_text` (a few seconds
per thousand texts; a section may seed something else: `Seeds(seed=...)`) and every run
starts from an exact copy of it: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
PostgreSQL (the template, named after --pg-url's database with `_outbox_seed`, or the
section's own suffix, is dropped when the section ends).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import sqlalchemy as sa

from . import dispatch_workers
from .common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    PACKAGE,
    PROCS,
    PUBLIC_BASE_URL,
    SECRET_KEY,
    Bench,
    BenchError,
    CpuSnapshot,
    cpu_probe_ms,
    cpu_usage,
    create_database,
    drop_database,
    free_port,
    fresh_database,
    our_dbname,
    postgres_dbname,
    say,
    wait_http,
)

SENDERS = {
    "regulars": dispatch_workers.drain_worker,
    "reference": dispatch_workers.reference_worker,
}


class StandIn:
    """The local stand-in for Twilio's Messages API (standin.py), for the life of a `with`."""

    def __init__(self, bench: Bench):
        self.bench = bench
        self.port = free_port()
        self.proc = None

    def __enter__(self) -> StandIn:
        log = self.bench.workdir / "standin.log"
        self.proc = PROCS.start(
            [sys.executable, str(PACKAGE / "standin.py"), str(self.port)],
            env=dict(os.environ), cwd=self.bench.workdir, log=log,
        )  # fmt: skip
        wait_http(self.port, self.proc, log, method="GET", path="/stats")
        return self

    def __exit__(self, *exc) -> None:
        PROCS.stop(self.proc)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str) -> dict:
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self.base_url + path, method=method, data=data)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


class Seeds:
    """The filled outbox of each database kind, made on first use, copied for every run.
    `seed(spec)` fills an empty database (default: --texts manual texts through
    `seed_outbox`) and returns what it made, with at least its "seconds"."""

    def __init__(self, bench: Bench, seed: Callable[[dict], dict] | None = None,
                 tag: str = "outbox"):  # fmt: skip
        self.bench = bench
        self.seed = seed or self._outbox
        self.tag = tag
        self.seeded: dict[str, dict] = {}  # kind: what the seed reported
        self.made_template = False
        self.template = f"{postgres_dbname(bench.opts.pg_url)}_{tag}_seed"[:63]

    def __enter__(self) -> Seeds:
        return self

    def __exit__(self, *exc) -> None:
        if self.made_template:
            drop_database(self.bench.opts.pg_url, self.template)

    def _spec(self, url: str) -> dict:
        return {"database_url": url, "secret_key": SECRET_KEY, "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN, "twilio_base_url": "http://127.0.0.1:9",
                "public_base_url": PUBLIC_BASE_URL}  # fmt: skip

    def _seed(self, kind: str, url: str) -> None:
        self.seeded[kind] = self.seed(self._spec(url))

    def _outbox(self, spec: dict) -> dict:
        opts = self.bench.opts
        say(f"  filling the outbox: {opts.texts} texts to {opts.customers} customers")
        return dispatch_workers.seed_outbox(
            spec, texts=opts.texts, customers=opts.customers, business_number=BUSINESS_NUMBER,
        )  # fmt: skip

    def fresh(self, kind: str, name: str) -> str:
        """A database holding the filled outbox, just as seeded, for one run."""
        bench = self.bench
        if kind == "sqlite":
            seed = bench.workdir / f"{self.tag}-seed.db"
            if kind not in self.seeded:
                self._seed(kind, fresh_database(bench, kind, f"{self.tag}-seed"))
            url = fresh_database(bench, kind, name)
            target = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal"):  # the WAL is empty once the seeding engine is closed
                if Path(f"{seed}{suffix}").exists():
                    shutil.copyfile(f"{seed}{suffix}", f"{target}{suffix}")
            return url
        url = bench.opts.pg_url
        if kind not in self.seeded:
            drop_database(url, self.template)
            create_database(url, self.template)
            self.made_template = True
            self._seed(
                kind,
                sa.engine.make_url(url)
                .set(database=self.template)
                .render_as_string(hide_password=False),
            )
        # Each run's database is a copy of the template, so every run starts from the same rows.
        drop_database(url, postgres_dbname(url))
        create_database(url, postgres_dbname(url), template=self.template)
        return url


@dataclass
class Run:
    """What one drain expects and does besides draining (the broadcast section's own): the
    texts it must see sent, the workers' extra settings, and steps at three moments."""

    texts: int
    customers: int
    timeout: float
    spec: dict | None = None  # added to the workers' spec (clock, pacing, ...)
    prepare: Callable[[str], None] | None = None  # the run's database, before workers start
    begin: Callable[[str], None] | None = None  # workers ready: the step just before "go"
    watch: Callable[[], None] | None = None  # called every WATCH_SECONDS while they work


WATCH_SECONDS = 0.2


def drain(bench: Bench, standin: StandIn, seeds: Seeds, kind: str, workers: int, sender: str,
          run: Run | None = None):  # fmt: skip
    """One run: a copy of the filled outbox, drained by `workers` processes of `sender`
    ("regulars" or "reference"). Returns timings, memory and the checks."""
    opts = bench.opts
    run = run or Run(opts.texts, opts.customers, opts.dispatch_timeout)
    url = seeds.fresh(kind, f"{seeds.tag}-{sender}-{workers}")
    if run.prepare is not None:
        run.prepare(url)
    log_file = bench.workdir / f"worker-{sender}-{kind}-{workers}.log"
    spec = {
        "database_url": url,
        "secret_key": SECRET_KEY,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "twilio_base_url": standin.base_url,
        "public_base_url": PUBLIC_BASE_URL,
        "log_file": str(log_file) if opts.worker_log and sender == "regulars" else None,
        **(run.spec or {}),
    }
    settings = dispatch_workers.settings_for(spec)
    spec["batch_size"] = settings.worker_batch_size
    spec["concurrency"] = settings.worker_concurrency
    standin.call("POST", "/reset")
    probe = cpu_probe_ms()
    ctx = multiprocessing.get_context("spawn")
    start, release, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=SENDERS[sender],
            args=(spec, f"bench-{sender}-{kind}-{i}", start, release, results),
            daemon=True,
        )
        for i in range(workers)
    ]
    reports: dict[str, dict] = {}
    failures: list[str] = []
    try:
        for proc in procs:
            proc.start()
        ready = 0
        while ready < workers:
            state, worker_id, detail = results.get(timeout=120)
            if state == "error":
                raise BenchError(f"worker {worker_id} failed to start: {detail}")
            ready += 1
        before = CpuSnapshot()
        if run.begin is not None:
            run.begin(url)
        began, began_at = time.monotonic(), time.time()
        start.set()
        deadline = began + run.timeout
        while len(reports) + len(failures) < workers:
            if time.monotonic() > deadline:
                raise BenchError(f"{sender} workers did not finish within {run.timeout} s")
            try:
                state, worker_id, detail = results.get(timeout=WATCH_SECONDS)
            except Empty:
                if run.watch is not None:
                    run.watch()
                continue
            if state == "done":
                reports[worker_id] = detail
            else:
                failures.append(f"{worker_id}: {detail}")
        after = CpuSnapshot()
        release.set()
        for proc in procs:
            proc.join(30)
    finally:
        release.set()
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    wall = max((r["finished"] for r in reports.values()), default=time.monotonic()) - began
    counts = standin.call("GET", "/stats")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            by_status = dict(
                conn.execute(sa.text("SELECT status, count(*) FROM message GROUP BY status")).all()
            )
    finally:
        engine.dispose()
    problems = list(failures)
    n = run.texts
    if counts["posts"] != n or counts["distinct_mids"] != n or counts["duplicate_mids"]:
        problems.append(f"stand-in saw {counts}, expected {n} POSTs for {n} distinct texts")
    if by_status != {"sent": n}:
        problems.append(f"message statuses {by_status}, expected {{'sent': {n}}}")
    if problems:
        say(f"  ! {sender} on {kind} with {workers} worker(s): " + "; ".join(problems))
    usage = cpu_usage(before, after, standin.proc.pid, set(), our_dbname(kind, url))
    return {
        "sender": sender,
        "db": kind,
        "workers": workers,
        "texts": n,
        "customers": run.customers,
        "batch_size": spec["batch_size"],
        "in_flight_per_worker": spec["concurrency"],
        "seed_seconds": round(seeds.seeded[kind]["seconds"], 2),
        "seconds": round(wall, 3),
        "texts_per_second": n / wall if wall > 0 else None,
        "began_at": began_at,  # unix time of "go", to set against the stand-in's moments
        "run_once_calls": sum(r.get("run_once_calls", 0) for r in reports.values()),
        "sent_per_worker": [r["sent"] for r in reports.values()],
        "worker_cpu_seconds": [round(r["cpu_seconds"], 2) for r in reports.values()],
        "rss_ready_mib": [round(r["rss_ready_kib"] / 1024, 1) for r in reports.values()],
        "max_rss_mib": [round(r["max_rss_kib"] / 1024, 1) for r in reports.values()],
        "stand_in": counts,
        "stand_in_cpu_seconds": round(usage["server_cpu_seconds"], 2),
        "machine_busy_fraction": round(usage["machine_busy_fraction"], 3),
        "other_load": round(usage["other_load_fraction"], 3),
        "cpu_probe_ms": probe,
        "statuses": by_status,
        "ok": not problems,
        "problems": problems,
    }
