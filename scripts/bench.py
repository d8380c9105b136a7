"""Regulars' benchmark (run it with scripts/bench): inbound webhooks and the dispatcher.

1. Inbound webhook: Regulars and a reference handler (scripts/bench_reference.py: a bare
   Flask route that checks the Twilio signature and inserts one row) are each served by
   gunicorn with the same workers and threads, on SQLite and on PostgreSQL, and loaded by
   16 keep-alive senders posting signed texts like Twilio's. Reports req/s, p50 and p99,
   and the ratio Regulars/reference. Every response must be 200 and every text stored.
2. Dispatcher: N manual texts are queued for customers with consent, then drained by
   worker processes (each its own Dispatcher, pacing off) against a local stand-in for
   Twilio's API (scripts/bench_standin.py). Every text must reach the stand-in exactly once
   and end `sent`. Reports texts/s for SQLite (1 worker) and PostgreSQL (1 and 4 workers).
3. The peak memory (max RSS) of each worker process while it drains the outbox.

Prints a table and a JSON summary (also written to artifacts/bench.json). Exits 1 when a
correctness check fails; a missed speed target is reported, not an error.

Choices, for a 2-core machine:
- Both web apps run as `gunicorn -w 2 --threads 8` (the Procfile's setting): two processes
  use both cores, 16 threads match the 16 senders. `-w 1 --threads 16` was measured too and
  was slower for both (one GIL for all the Python work).
- The client is 2 processes x 8 threads with one keep-alive http.client connection each;
  requests are signed before the clock starts, so the client needs ~0.1-0.2 ms of CPU per
  request (reported as client_cpu_ms_per_request) and one client GIL does not queue 16
  threads. It still shares the cores with the servers, equally for both apps.
- The load is closed-loop at full speed: latency then is mostly queueing
  (p50 ~ 16 senders / throughput), so p99 < 50 ms needs roughly 600+ req/s here.
- Each inbound run gets a fresh database; the rounds go A B B A so a machine that drifts
  favours neither side. Rates are over all measured seconds, percentiles over all requests.
- Dispatcher workers log the way `regulars worker` does (INFO, here into a file); pass
  --no-worker-log to measure without it. Sends go to the stand-in with pacing off and the
  default WORKER_CONCURRENCY (8 sends in flight per worker).
- "other load" is the CPU share used by processes outside the bench during a measured
  window (other jobs on a shared machine); above 10% the table flags the run as noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty

import bench_dispatch
import bench_load
import bench_pages
import bench_reference
import phonenumbers
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123"
BUSINESS_NUMBER = "+12125550100"
TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0
TARGET_SQLITE_TEXTS_PER_S = 500.0
TARGETS = ("regulars", "reference")
NOISY = 0.10  # other processes' share of the CPUs above which a run is flagged
PREBUILD_SECONDS = 1.5  # the client signs requests ahead during this time
PREBUILD_RATE = 2500  # requests per second to sign ahead for (more are signed on the fly)
APP_ENV_NAMES = (
    "REGULARS_ENV", "DATABASE_URL", "SECRET_KEY", "SMS_BACKEND", "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "PUBLIC_BASE_URL", "TRUSTED_PROXIES",
    "MAX_BODY_BYTES", "EMBEDDED_WORKER", "WORKER_BATCH_SIZE", "WORKER_CONCURRENCY",
    "WORKER_POLL_SECONDS", "LEASE_SECONDS", "MAX_SEND_ATTEMPTS", "SEND_PACING",
    "REGULARS_INSTANCE_DIR", "WEB_CONCURRENCY",
)  # fmt: skip


class BenchError(RuntimeError):
    """The bench itself could not run (a server did not start, a database is unreachable)."""


def say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


# ---- processes we start -----------------------------------------------------------------------


class Processes:
    """Every server this bench starts, each in its own session so its children go with it."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], *, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
        handle = open(log, "ab")  # noqa: SIM115 (lives as long as the process)
        try:
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        finally:
            handle.close()
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # gunicorn's workers are in the same group: make sure none outlived the master.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc, timeout=5)


PROCS = Processes()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_http(port: int, proc: subprocess.Popen, log: Path, method="POST", path="/", timeout=30):
    """Wait until the server answers an HTTP request at all (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}:\n{tail(log)}")
        data = b"" if method == "POST" else None
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"server on port {port} did not answer in {timeout} s:\n{tail(log)}")


TICK = os.sysconf("SC_CLK_TCK")


class CpuSnapshot:
    """The machine's and every process's CPU time at one moment (from /proc).

    On a shared machine other work steals CPU from the servers; the bench reports how much
    ("other load") so a noisy result can be recognised as such.
    """

    def __init__(self) -> None:
        with open("/proc/stat", encoding="ascii") as stat:
            # user nice system idle iowait irq softirq steal ...
            values = [int(v) for v in stat.readline().split()[1:]] + [0] * 8
        self.total = sum(values[:8])
        self.tasks = values[0] + values[1] + values[2]  # CPU time charged to processes
        self.steal = values[7]  # taken by the hypervisor for other machines
        self.procs: dict[int, tuple[int, int, str]] = {}  # pid: (jiffies, pgrp, comm)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    text = stat.read()
            except OSError:
                continue
            comm = text[text.find("(") + 1 : text.rfind(")")]
            fields = text.rsplit(")", 1)[1].split()  # state ppid pgrp ... utime(11) stime(12)
            self.procs[int(entry)] = (int(fields[11]) + int(fields[12]), int(fields[2]), comm)


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop: how fast this (virtual) CPU is right now.
    Shared or throttled machines drift by 20% and more; the JSON keeps it next to each run."""
    began = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return round((time.process_time() - began) * 1000, 1)


def _is_our_postgres_backend(pid: int, dbname: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            title = cmdline.read().decode(errors="replace")
    except OSError:
        return False
    return f" {dbname} " in title  # "postgres: 15/main: postgres bench 127.0.0.1(...) idle"


def cpu_usage(before: CpuSnapshot, after: CpuSnapshot, server_pgid: int, ours: set[int],
              dbname: str | None) -> dict:  # fmt: skip
    """CPU used between two snapshots: by the server's process group, and by everything that
    is not this bench (all process time minus the servers, clients, bench and our PostgreSQL
    backends, which live through the window; plus hypervisor steal)."""
    server = mine = 0
    for pid, (jiffies, pgrp, comm) in after.procs.items():
        delta = jiffies - before.procs.get(pid, (0, 0, ""))[0]
        if delta <= 0:
            continue
        if pgrp == server_pgid:
            server += delta
            continue
        ours_too = pid in ours or pgrp == os.getpgrp()  # the bench and its client processes
        if not ours_too and comm == "postgres" and dbname:
            ours_too = _is_our_postgres_backend(pid, dbname)
        if ours_too:
            mine += delta
    total = max(1, after.total - before.total)
    tasks = after.tasks - before.tasks
    other = max(0, tasks - server - mine) + (after.steal - before.steal)
    return {
        "server_cpu_seconds": server / TICK,
        "machine_busy_fraction": min(1.0, (tasks + after.steal - before.steal) / total),
        "other_load_fraction": min(1.0, other / total),
    }


# ---- databases ----------------------------------------------------------------------------------


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET lock_timeout = '15s'"))
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def fresh_database(kind: str, pg_url: str, workdir: Path, name: str) -> str:
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    reset_postgres(pg_url)
    return pg_url


def count_rows(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def execute_sql(url: str, sql: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def app_env(database_url: str, public_base_url: str, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_NAMES}
    env.update(
        REGULARS_ENV="production",
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL="http://127.0.0.1:9",  # never used by the webhook; never the internet
        PUBLIC_BASE_URL=public_base_url,
        EMBEDDED_WORKER="false",
        REGULARS_INSTANCE_DIR=str(workdir),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(argv: list[str], env: dict, cwd: Path) -> str:
    done = subprocess.run(
        [str(BIN / "regulars"), *argv], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"regulars {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


# ---- 1. inbound webhook ------------------------------------------------------------------------


def valid_customer_phones(count: int) -> list[str]:
    rng = random.Random(1212)
    phones = []
    for n in rng.sample(range(10000), 2 * count):
        phone = f"+1212555{n:04d}"
        if phone != BUSINESS_NUMBER and phonenumbers.is_valid_number(phonenumbers.parse(phone)):
            phones.append(phone)
        if len(phones) == count:
            return phones
    raise BenchError("could not find enough valid test numbers")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[index]


def inbound_run(target: str, kind: str, opts, workdir: Path, clients, phones, seed: int) -> dict:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    url = fresh_database(kind, opts.pg_url, workdir, f"inbound-{target}")
    env = app_env(url, public, workdir)
    if target == "regulars":
        run_cli(["db", "upgrade"], env, workdir)
        created = json.loads(
            run_cli(
                ["business", "create", "--name", "Bench Salon", "--number", BUSINESS_NUMBER,
                 "--timezone", "America/New_York", "--owner-email", "owner@bench.example",
                 "--owner-password", "bench-password-0123"],
                env, workdir,
            ).strip().splitlines()[-1]
        )  # fmt: skip
        if not created.get("business_id"):
            raise BenchError(f"regulars business create printed {created}")
        # Measure the plain-reply path at any hour: the after-hours answer (once per customer
        # per 12 h) would otherwise make the figures depend on the time of day of the run.
        execute_sql(url, "UPDATE business SET after_hours_reply = false")
        app_spec = ["--pythonpath", opts.app_path, opts.app] if opts.app_path else [opts.app]
        count_sql = "SELECT count(*) FROM message WHERE direction = 'inbound'"
    else:
        engine = bench_reference.make_engine(url)
        try:
            bench_reference.metadata.create_all(engine)
        finally:
            engine.dispose()
        app_spec = ["--pythonpath", str(SCRIPTS), "bench_reference:create_app()"]
        count_sql = "SELECT count(*) FROM bench_reference_inbound"
    log = workdir / f"gunicorn-{target}-{kind}.log"
    argv = [
        str(BIN / "gunicorn"), "--workers", str(opts.gunicorn_workers),
        "--threads", str(opts.gunicorn_threads), "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "10", "--log-level", "warning", "--error-logfile", "-",
        *app_spec,
    ]  # fmt: skip
    probe = cpu_probe_ms()
    server = PROCS.start(argv, env=env, cwd=workdir, log=log)
    try:
        wait_http(port, server, log, path="/webhooks/twilio/sms")  # unsigned: 403, no DB work
        time.sleep(0.5)  # let every worker finish booting
        start_at = time.monotonic() + PREBUILD_SECONDS
        measure_from = start_at + opts.warmup
        stop_at = measure_from + opts.duration
        per_proc = opts.senders // opts.client_procs
        prebuild = int(PREBUILD_RATE * (opts.warmup + opts.duration) / opts.senders)
        futures = [
            clients.submit(
                bench_load.run_load,
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "path": "/webhooks/twilio/sms",
                    "public_base_url": public,
                    "auth_token": AUTH_TOKEN,
                    "account_sid": ACCOUNT_SID,
                    "to_number": BUSINESS_NUMBER,
                    "phones": phones,
                    "seed": seed,
                    "threads": per_proc,
                    "first_thread": i * per_proc,
                    "start_at": start_at,
                    "measure_from": measure_from,
                    "stop_at": stop_at,
                    "prebuild": prebuild,
                },
            )  # fmt: skip
            for i in range(opts.client_procs)
        ]
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = CpuSnapshot()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        after = CpuSnapshot()
        parts = [f.result(timeout=opts.duration + opts.warmup + 60) for f in futures]
    finally:
        PROCS.stop(server)
    latencies = [x for p in parts for x in p["latencies"]]
    statuses: dict[int, int] = {}
    for p in parts:
        for status, n in p["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    errors = [e for p in parts for e in p["errors"]]
    ok_responses = statuses.get(200, 0)
    stored = count_rows(url, count_sql)
    completed = sum(p["completed"] for p in parts)
    problems = []
    if set(statuses) != {200}:
        problems.append(f"non-200 responses: {statuses}")
    if errors:
        problems.append(f"{len(errors)} requests failed: {errors[:3]}")
    if stored != ok_responses:
        problems.append(f"{ok_responses} texts answered 200 but {stored} stored")
    if not latencies:
        problems.append("no request finished inside the measured window")
    if problems:
        say(f"  ! {target} on {kind}: " + "; ".join(problems))
        say(tail(log))
    ordered = sorted(latencies)
    ours = {p["pid"] for p in parts}
    dbname = sa.engine.make_url(url).database if kind == "postgresql" else None
    usage = cpu_usage(before, after, server.pid, ours, dbname)
    return {
        "requests_per_second": round(completed / opts.duration, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "completed": completed,
        "total_requests": sum(p["sent"] for p in parts),
        "statuses": statuses,
        "rows_stored": stored,
        "reconnects": sum(p["reconnects"] for p in parts),
        "signed_during_run": sum(p["signed_during_run"] for p in parts),
        "server_cpu_seconds": usage["server_cpu_seconds"],
        "client_cpu_seconds": sum(p["cpu_seconds"] for p in parts),
        "machine_busy_fraction": usage["machine_busy_fraction"],
        "other_load": round(usage["other_load_fraction"], 3),
        "cpu_probe_ms": probe,
        "problems": problems,
        "_latencies": latencies,
    }


def combine(runs: list[dict], opts) -> dict:
    """One target's runs (one per round) summed up: rates over all measured seconds, percentiles
    over all requests."""
    latencies = sorted(x for run in runs for x in run["_latencies"])
    completed = sum(run["completed"] for run in runs)
    statuses: dict[int, int] = {}
    for run in runs:
        for status, n in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    problems = [p for run in runs for p in run["problems"]]
    return {
        "requests_per_second": round(completed / (opts.duration * len(runs)), 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p90_ms": round(percentile(latencies, 0.90) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "measured_requests": completed,
        "total_requests": sum(run["total_requests"] for run in runs),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rows_stored": sum(run["rows_stored"] for run in runs),
        "reconnects": sum(run["reconnects"] for run in runs),
        "server_cpu_ms_per_request": (
            round(sum(r["server_cpu_seconds"] for r in runs) * 1000 / completed, 3)
            if completed
            else None
        ),
        "client_cpu_ms_per_request": round(
            sum(r["client_cpu_seconds"] for r in runs)
            * 1000
            / max(1, sum(r["total_requests"] for r in runs)),
            3,
        ),
        "machine_busy_fraction": round(
            sum(r["machine_busy_fraction"] for r in runs) / len(runs), 3
        ),
        "other_load": max(r["other_load"] for r in runs),
        "rounds": [
            {
                k: run[k]
                for k in ("requests_per_second", "p50_ms", "p99_ms", "other_load", "cpu_probe_ms")
            }
            for run in runs
        ],
        "ok": not problems,
        "problems": problems,
    }


def bench_inbound(opts, workdir: Path, kinds: list[str]) -> dict:
    phones = valid_customer_phones(1000)
    results = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=opts.client_procs, mp_context=ctx) as clients:
        for f in [clients.submit(bench_load.ready) for _ in range(opts.client_procs)]:
            f.result(timeout=60)
        seed = 1
        for kind in kinds:
            runs: dict[str, list[dict]] = {"reference": [], "regulars": []}
            for round_no in range(opts.rounds):
                # A B B A ...: a machine that slows down or speeds up favours neither side.
                order = (
                    ("reference", "regulars") if round_no % 2 == 0 else ("regulars", "reference")
                )
                for target in order:
                    say(f"inbound webhook: {target} on {kind} (round {round_no + 1}) ...")
                    run = inbound_run(target, kind, opts, workdir, clients, phones, seed)
                    seed += 1
                    runs[target].append(run)
                    say(
                        f"  {run['requests_per_second']:.0f} req/s, p50 {run['p50_ms']:.1f} ms, "
                        f"p99 {run['p99_ms']:.1f} ms, server CPU "
                        f"{run['server_cpu_seconds'] * 1000 / max(1, run['completed']):.2f} "
                        f"ms/request, other load {run['other_load']:.0%}"
                    )
            pair = {target: combine(target_runs, opts) for target, target_runs in runs.items()}
            reg, ref = pair["regulars"], pair["reference"]
            ratio = reg["requests_per_second"] / ref["requests_per_second"]
            pair["ratio"] = round(ratio, 3)
            pair["targets"] = {"ratio_min": TARGET_RATIO, "p99_max_ms": TARGET_P99_MS}
            pair["meets_targets"] = ratio >= TARGET_RATIO and reg["p99_ms"] < TARGET_P99_MS
            pair["ok"] = reg["ok"] and ref["ok"]
            results[kind] = pair
    return results


# ---- 2 and 3. dispatcher ------------------------------------------------------------------------


def stand_in_call(port: int, method: str, path: str) -> dict:
    data = b"" if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def dispatch_run(kind: str, workers: int, opts, workdir: Path, standin: subprocess.Popen,
                 standin_port: int) -> dict:  # fmt: skip
    url = fresh_database(kind, opts.pg_url, workdir, f"dispatch-{workers}")
    spec = {
        "database_url": url,
        "secret_key": SECRET_KEY,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "twilio_base_url": f"http://127.0.0.1:{standin_port}",
        "public_base_url": "https://regulars.bench.invalid",
        "log_file": str(workdir / f"worker-{kind}-{workers}.log") if opts.worker_log else None,
    }
    seeded = bench_dispatch.seed_outbox(
        spec, texts=opts.texts, customers=opts.customers, business_number=BUSINESS_NUMBER
    )
    stand_in_call(standin_port, "POST", "/reset")
    probe = cpu_probe_ms()
    ctx = multiprocessing.get_context("spawn")
    start, release, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=bench_dispatch.drain_worker,
            args=(spec, f"bench-{kind}-{i}", start, release, results),
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
        began = time.monotonic()
        start.set()
        deadline = began + opts.dispatch_timeout
        while len(reports) + len(failures) < workers:
            try:
                state, worker_id, detail = results.get(
                    timeout=max(0.1, deadline - time.monotonic())
                )
            except Empty as exc:
                raise BenchError(
                    f"workers did not finish within {opts.dispatch_timeout} s"
                ) from exc
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
    counts = stand_in_call(standin_port, "GET", "/stats")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            by_status = dict(
                conn.execute(sa.text("SELECT status, count(*) FROM message GROUP BY status")).all()
            )
    finally:
        engine.dispose()
    problems = list(failures)
    n = opts.texts
    if counts["posts"] != n or counts["distinct_mids"] != n or counts["duplicate_mids"]:
        problems.append(f"stand-in saw {counts}, expected {n} POSTs for {n} distinct texts")
    if by_status != {"sent": n}:
        problems.append(f"message statuses {by_status}, expected {{'sent': {n}}}")
    if problems:
        say(f"  ! dispatcher on {kind} with {workers} worker(s): " + "; ".join(problems))
    max_rss = [r["max_rss_kib"] / 1024 for r in reports.values()]
    dbname = sa.engine.make_url(url).database if kind == "postgresql" else None
    usage = cpu_usage(before, after, standin.pid, set(), dbname)
    return {
        "db": kind,
        "workers": workers,
        "texts": n,
        "customers": opts.customers,
        "seed_seconds": round(seeded["seconds"], 2),
        "seconds": round(wall, 3),
        "texts_per_second": n / wall if wall > 0 else None,
        "run_once_calls": sum(r["run_once_calls"] for r in reports.values()),
        "sent_per_worker": [r["sent"] for r in reports.values()],
        "worker_cpu_seconds": [round(r["cpu_seconds"], 2) for r in reports.values()],
        "rss_ready_mib": [round(r["rss_ready_kib"] / 1024, 1) for r in reports.values()],
        "max_rss_mib": [round(m, 1) for m in max_rss],
        "stand_in": counts,
        "stand_in_cpu_seconds": round(usage["server_cpu_seconds"], 2),
        "machine_busy_fraction": round(usage["machine_busy_fraction"], 3),
        "other_load": round(usage["other_load_fraction"], 3),
        "cpu_probe_ms": probe,
        "statuses": by_status,
        "target_texts_per_second": TARGET_SQLITE_TEXTS_PER_S if kind == "sqlite" else None,
        "ok": not problems,
        "problems": problems,
    }


def bench_dispatcher(opts, workdir: Path, kinds: list[str]) -> list[dict]:
    port = free_port()
    log = workdir / "standin.log"
    standin = PROCS.start(
        [sys.executable, str(SCRIPTS / "bench_standin.py"), str(port)],
        env=dict(os.environ), cwd=workdir, log=log,
    )  # fmt: skip
    runs = []
    try:
        wait_http(port, standin, log, method="GET", path="/stats")
        plan = [("sqlite", 1)] if "sqlite" in kinds else []
        if "postgresql" in kinds:
            plan += [("postgresql", w) for w in opts.pg_workers]
        for kind, workers in plan:
            say(f"dispatcher: {opts.texts} texts on {kind} with {workers} worker(s) ...")
            run = dispatch_run(kind, workers, opts, workdir, standin, port)
            say(
                f"  {run['seconds']:.2f} s = {run['texts_per_second'] or 0:.0f} texts/s, "
                f"peak RSS {max(run['max_rss_mib'] or [0]):.0f} MiB, "
                f"other load {run['other_load']:.0%}"
            )
            runs.append(run)
    finally:
        PROCS.stop(standin)
    return runs


# ---- report ------------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "OK  " if ok else "MISS"


def print_table(summary: dict) -> None:
    cfg = summary["config"]
    print()
    machine = summary["machine"]
    print(
        f"Regulars bench  {machine['cpus']} CPUs, load {machine['load_before']}, CPU probe "
        f"{machine['cpu_probe_ms_before']:g}/{machine.get('cpu_probe_ms_after', 0):g} ms"
        f"  |  gunicorn -w {cfg['gunicorn_workers']} --threads {cfg['gunicorn_threads']}"
        f"  |  {cfg['senders']} senders in {cfg['client_procs']} client processes"
        f"  |  {cfg['rounds']} x ({cfg['warmup_s']:g} s warm-up + {cfg['duration_s']:g} s measured)"
    )
    print()
    for kind, pair in summary.get("inbound", {}).items():
        reg, ref = pair["regulars"], pair["reference"]
        label = "postgres" if kind == "postgresql" else kind
        print(
            f"  inbound webhook  {label + ':':<9} "
            f"regulars {reg['requests_per_second']:6.0f} req/s p50 {reg['p50_ms']:5.1f} ms "
            f"p99 {reg['p99_ms']:5.1f} ms | reference {ref['requests_per_second']:6.0f} req/s "
            f"p50 {ref['p50_ms']:5.1f} ms p99 {ref['p99_ms']:5.1f} ms | ratio {pair['ratio']:.2f} "
            f"(target >= {TARGET_RATIO}, p99 < {TARGET_P99_MS:g} ms)  "
            f"{mark(pair['meets_targets'])}{'' if pair['ok'] else '  CHECKS FAILED'}"
            f"  [other load {max(reg['other_load'], ref['other_load']):.0%}]"
        )
    for run in summary.get("dispatcher", []):
        label = "postgres" if run["db"] == "postgresql" else run["db"]
        target = run["target_texts_per_second"]
        verdict = (
            f"(target >= {target:g})  {mark((run['texts_per_second'] or 0) >= target)}"
            if target
            else ""
        )
        worker_s = "worker " if run["workers"] == 1 else "workers"
        print(
            f"  dispatcher       {label + ':':<9} {run['workers']} {worker_s}: "
            f"{run['texts']} texts in {run['seconds']:6.2f} s = "
            f"{run['texts_per_second'] or 0:6.0f} texts/s, "
            f"sent once each: {'yes' if run['ok'] else 'NO'}  {verdict}"
            f"  [other load {run['other_load']:.0%}]"
        )
    memory = summary.get("memory")
    if memory:
        print(
            f"  worker memory    peak RSS {memory['worker_peak_rss_mib']:.0f} MiB "
            f"(after start-up {memory['worker_ready_rss_mib']:.0f} MiB; per run: "
            + ", ".join(memory["per_run"])
            + ")"
        )
    bench_pages.print_results(summary.get("pages", []))
    others = [p[t]["other_load"] for p in summary.get("inbound", {}).values() for t in TARGETS]
    others += [r["other_load"] for r in summary.get("dispatcher", [])]
    if others and max(others) > NOISY:
        print(
            f"  note: processes outside this bench used up to {max(others):.0%} of the CPUs "
            "during a run; those numbers are less reliable (rerun on a quiet machine)."
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["inbound", "dispatcher", "pages"], help="run one part")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="inbound runs per target and database (ABBA order)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per run")
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--pg-workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--dispatch-timeout", type=float, default=90.0)
    parser.add_argument(
        "--worker-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log in the workers as `regulars worker` does (INFO, to a file); default on",
    )
    parser.add_argument(
        "--app", default="app:create_app()", help="gunicorn app for Regulars (to try a change)"
    )
    parser.add_argument("--app-path", help="extra Python path for --app")
    parser.add_argument("--json", default=str(ROOT / "artifacts" / "bench.json"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = parser.parse_args(argv)
    if opts.senders % opts.client_procs:
        parser.error("--senders must be a multiple of --client-procs")
    kinds = ["sqlite", "postgresql"] if opts.db == "both" else [opts.db]
    if "postgresql" in kinds:
        dbname = sa.engine.make_url(opts.pg_url).database
        if dbname in {"test", None, ""}:
            parser.error(f"refusing to use the PostgreSQL database {dbname!r}: give --pg-url")
        try:
            count_rows(opts.pg_url, "SELECT 1")
        except Exception as exc:
            parser.error(f"cannot reach PostgreSQL at {opts.pg_url}: {exc}")

    def _terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="regulars-bench-"))
    started = time.monotonic()
    summary: dict = {
        "version": 1,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_before": round(os.getloadavg()[0], 2),
            "cpu_probe_ms_before": cpu_probe_ms(),
        },
        "config": {
            "gunicorn_workers": opts.gunicorn_workers,
            "gunicorn_threads": opts.gunicorn_threads,
            "senders": opts.senders,
            "client_procs": opts.client_procs,
            "warmup_s": opts.warmup,
            "duration_s": opts.duration,
            "rounds": opts.rounds,
            "texts": opts.texts,
            "customers": opts.customers,
            "pg_workers": opts.pg_workers,
            "worker_log": opts.worker_log,
            "regulars_app": opts.app,
            "pg_url": sa.engine.make_url(opts.pg_url).render_as_string(hide_password=True),
        },
    }
    try:
        if opts.only in (None, "inbound"):
            summary["inbound"] = bench_inbound(opts, workdir, kinds)
        if opts.only in (None, "dispatcher"):
            runs = bench_dispatcher(opts, workdir, kinds)
            summary["dispatcher"] = runs
            peaks = [m for run in runs for m in run["max_rss_mib"]]
            if peaks:
                summary["memory"] = {
                    "worker_peak_rss_mib": max(peaks),
                    "worker_ready_rss_mib": max(m for r in runs for m in r["rss_ready_mib"]),
                    "per_run": [
                        f"{r['db']}/{r['workers']}w {max(r['max_rss_mib']):.0f} MiB" for r in runs
                    ],
                }
        if opts.only in (None, "pages"):
            summary["pages"] = bench_pages.bench_pages(kinds, opts.pg_url, workdir)
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
    checks = [p["ok"] for p in summary.get("inbound", {}).values()]
    checks += [r["ok"] for r in summary.get("dispatcher", [])]
    targets = [p["meets_targets"] for p in summary.get("inbound", {}).values()]
    targets += [
        (r["texts_per_second"] or 0) >= r["target_texts_per_second"]
        for r in summary.get("dispatcher", [])
        if r["target_texts_per_second"]
    ]
    targets += [r["meets_targets"] for r in summary.get("pages", [])]
    summary["ok"] = all(checks)
    summary["targets_met"] = all(targets)
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    summary["machine"]["cpu_probe_ms_after"] = cpu_probe_ms()
    print_table(summary)
    out = Path(opts.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, separators=(",", ":")))
    say(f"summary written to {out} ({summary['elapsed_s']} s)")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
