"""Inbound webhook: Regulars against a reference handler, on SQLite and PostgreSQL.

Regulars and a reference handler (inbound_reference.py: a bare Flask route that checks the
Twilio signature and inserts one row) are each served by gunicorn with the same workers and
threads and loaded by 16 keep-alive senders posting signed texts like Twilio's
(inbound_client.py). Reports req/s, p50 and p99, and the ratio Regulars/reference. Every
response must be 200 and every text stored.

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
- Each run gets a fresh database; the rounds go A B B A so a machine that drifts favours
  neither side. Rates are over all measured seconds, percentiles over all requests.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor

import phonenumbers

from . import inbound_client, inbound_reference
from .common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BIN,
    BUSINESS_NUMBER,
    PROCS,
    SCRIPTS,
    Bench,
    BenchError,
    CpuSnapshot,
    Section,
    abba,
    app_env,
    count_rows,
    cpu_probe_ms,
    cpu_usage,
    execute_sql,
    free_port,
    fresh_database,
    label,
    mark,
    our_dbname,
    percentile,
    reference_engine,
    run_cli,
    say,
    tail,
    wait_http,
)

TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0
TARGETS = ("regulars", "reference")
PREBUILD_SECONDS = 1.5  # the client signs requests ahead during this time
PREBUILD_RATE = 2500  # requests per second to sign ahead for (more are signed on the fly)
PATH = "/webhooks/twilio/sms"


def add_arguments(group) -> None:
    group.add_argument("--duration", type=float, default=6.0, help="measured seconds per run")
    group.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per run")
    group.add_argument("--senders", type=int, default=16)
    group.add_argument("--client-procs", type=int, default=2)
    group.add_argument("--gunicorn-workers", type=int, default=2)
    group.add_argument("--gunicorn-threads", type=int, default=8)
    group.add_argument(
        "--app", default="app:create_app()", help="gunicorn app for Regulars (to try a change)"
    )
    group.add_argument("--app-path", help="extra Python path for --app")


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


def seed_regulars(url: str, env: dict, bench: Bench) -> None:
    """Migrate and create the business through the `regulars` command, as an operator would."""
    run_cli(["db", "upgrade"], env, bench.workdir)
    created = json.loads(
        run_cli(
            ["business", "create", "--name", "Bench Salon", "--number", BUSINESS_NUMBER,
             "--timezone", "America/New_York", "--owner-email", "owner@bench.example",
             "--owner-password", "bench-password-0123"],
            # The bench's Twilio is a stand-in with no numbers to look up: create the business
            # as on a machine without Twilio, then serve it with the twilio backend.
            {**env, "SMS_BACKEND": "simulator"}, bench.workdir,
        ).strip().splitlines()[-1]
    )  # fmt: skip
    if not created.get("business_id"):
        raise BenchError(f"regulars business create printed {created}")
    # Measure the plain-reply path at any hour: the after-hours answer (once per customer
    # per 12 h) would otherwise make the figures depend on the time of day of the run.
    execute_sql(url, "UPDATE business SET after_hours_reply = false")


def inbound_run(bench: Bench, target: str, kind: str, clients, phones, seed: int) -> dict:
    opts = bench.opts
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    url = fresh_database(bench, kind, f"inbound-{target}")
    env = app_env(url, public, bench.workdir)
    if target == "regulars":
        seed_regulars(url, env, bench)
        app_spec = ["--pythonpath", opts.app_path, opts.app] if opts.app_path else [opts.app]
        count_sql = "SELECT count(*) FROM message WHERE direction = 'inbound'"
    else:
        engine = reference_engine(url)
        try:
            inbound_reference.metadata.create_all(engine)
        finally:
            engine.dispose()
        app_spec = ["--pythonpath", str(SCRIPTS), "benchmarks.inbound_reference:create_app()"]
        count_sql = "SELECT count(*) FROM bench_reference_inbound"
    log = bench.workdir / f"gunicorn-{target}-{kind}.log"
    argv = [
        str(BIN / "gunicorn"), "--workers", str(opts.gunicorn_workers),
        "--threads", str(opts.gunicorn_threads), "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "10", "--log-level", "warning", "--error-logfile", "-",
        *app_spec,
    ]  # fmt: skip
    probe = cpu_probe_ms()
    server = PROCS.start(argv, env=env, cwd=bench.workdir, log=log)
    try:
        wait_http(port, server, log, path=PATH)  # unsigned: 403, no DB work
        time.sleep(0.5)  # let every worker finish booting
        start_at = time.monotonic() + PREBUILD_SECONDS
        measure_from = start_at + opts.warmup
        stop_at = measure_from + opts.duration
        per_proc = opts.senders // opts.client_procs
        prebuild = int(PREBUILD_RATE * (opts.warmup + opts.duration) / opts.senders)
        futures = [
            clients.submit(
                inbound_client.run_load,
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "path": PATH,
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
            )
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
    usage = cpu_usage(before, after, server.pid, ours, our_dbname(kind, url))
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


def combine(runs: list[dict], duration: float) -> dict:
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
        "requests_per_second": round(completed / (duration * len(runs)), 1),
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


def run(bench: Bench) -> dict:
    opts = bench.opts
    if opts.senders % opts.client_procs:
        raise BenchError("--senders must be a multiple of --client-procs")
    phones = valid_customer_phones(1000)
    by_kind = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=opts.client_procs, mp_context=ctx) as clients:
        for f in [clients.submit(inbound_client.ready) for _ in range(opts.client_procs)]:
            f.result(timeout=60)
        seed = 1
        for kind in bench.kinds:
            runs: dict[str, list[dict]] = {"reference": [], "regulars": []}
            for round_no, target in abba(opts.rounds, "reference", "regulars"):
                say(f"inbound webhook: {target} on {kind} (round {round_no + 1}) ...")
                one = inbound_run(bench, target, kind, clients, phones, seed)
                seed += 1
                runs[target].append(one)
                say(
                    f"  {one['requests_per_second']:.0f} req/s, p50 {one['p50_ms']:.1f} ms, "
                    f"p99 {one['p99_ms']:.1f} ms, server CPU "
                    f"{one['server_cpu_seconds'] * 1000 / max(1, one['completed']):.2f} "
                    f"ms/request, other load {one['other_load']:.0%}"
                )
            pair = {target: combine(done, opts.duration) for target, done in runs.items()}
            reg, ref = pair["regulars"], pair["reference"]
            ratio = reg["requests_per_second"] / ref["requests_per_second"]
            pair["ratio"] = round(ratio, 3)
            pair["targets"] = {"ratio_min": TARGET_RATIO, "p99_max_ms": TARGET_P99_MS}
            pair["meets_targets"] = ratio >= TARGET_RATIO and reg["p99_ms"] < TARGET_P99_MS
            pair["ok"] = reg["ok"] and ref["ok"]
            by_kind[kind] = pair
    return {
        "config": {
            "gunicorn_workers": opts.gunicorn_workers,
            "gunicorn_threads": opts.gunicorn_threads,
            "senders": opts.senders,
            "client_procs": opts.client_procs,
            "warmup_s": opts.warmup,
            "duration_s": opts.duration,
            "rounds": opts.rounds,
            "regulars_app": opts.app,
        },
        "by_db": by_kind,
        "ok": all(p["ok"] for p in by_kind.values()),
        "targets_met": all(p["meets_targets"] for p in by_kind.values()),
        "other_load": max(
            (p[t]["other_load"] for p in by_kind.values() for t in TARGETS), default=None
        ),
    }


def report(result: dict, bench: Bench) -> None:
    cfg = result["config"]
    print(
        f"  inbound webhook  gunicorn -w {cfg['gunicorn_workers']} --threads "
        f"{cfg['gunicorn_threads']}, {cfg['senders']} senders in {cfg['client_procs']} client "
        f"processes, {cfg['rounds']} x ({cfg['warmup_s']:g} s warm-up + {cfg['duration_s']:g} s "
        "measured) per app, A B B A"
    )
    for kind, pair in result["by_db"].items():
        reg, ref = pair["regulars"], pair["reference"]
        print(
            f"    {label(kind) + ':':<9} "
            f"regulars {reg['requests_per_second']:6.0f} req/s p50 {reg['p50_ms']:5.1f} ms "
            f"p99 {reg['p99_ms']:5.1f} ms | reference {ref['requests_per_second']:6.0f} req/s "
            f"p50 {ref['p50_ms']:5.1f} ms p99 {ref['p99_ms']:5.1f} ms | ratio {pair['ratio']:.2f} "
            f"(target >= {TARGET_RATIO}, p99 < {TARGET_P99_MS:g} ms)  "
            f"{mark(pair['meets_targets'])}{'' if pair['ok'] else '  CHECKS FAILED'}"
            f"  [other load {max(reg['other_load'], ref['other_load']):.0%}]"
        )


SECTION = Section(
    name="inbound",
    help="inbound webhook under load: Regulars vs a bare signed-insert handler (req/s, p99)",
    run=run,
    report=report,
    add_arguments=add_arguments,
)
