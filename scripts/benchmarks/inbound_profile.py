"""Inbound profile: where one inbound text's time goes inside the web process.

Regulars (the settings gunicorn's `app:create_app()` gets in the inbound section, the
business made by the `regulars` command) and the reference handler are built in-process and
called through WSGI with signed texts like Twilio's, one at a time, Regulars' request and
the reference's in turn: no network, no client, no other request, and a machine whose speed
moves moves both. That gives each app's own milliseconds per text and how long its write
transaction stays open (on SQLite, the one write lock's hold time, which bounds req/s under
load). Then each path runs under cProfile, in ms per request: own time per package, the
time the framework spends around the app's code, and the app's calls into libraries (the
JSON keeps the top functions by inclusive and own time too). cProfile inflates
Python-heavy code, so its figures add up to more than the unprofiled ones.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

from . import inbound_client, inbound_reference
from .common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    PUBLIC_BASE_URL,
    ROOT,
    SECRET_KEY,
    Bench,
    BenchError,
    Section,
    app_env,
    count_rows,
    fresh_database,
    label,
    say,
)
from .inbound import PATH, seed_regulars, valid_customer_phones

TOP = 25
# Frames that only pass the request along: their inclusive time is the whole request.
WRAPPERS = ("flask/app.py", "werkzeug/test.py", "benchmarks/inbound_profile.py")


def add_arguments(group) -> None:
    group.add_argument("--profile-requests", type=int, default=1500, help="texts per measurement")
    group.add_argument("--profile-warmup", type=int, default=300)


def signed_environs(count: int, seed: int, phones: list[str]) -> list[dict]:
    """WSGI environs of signed inbound texts, built before the clock starts."""
    validator = RequestValidator(AUTH_TOKEN)
    rng = random.Random(seed)
    environs = []
    for seq in range(count):
        form = inbound_client.inbound_form(
            f"SM{seed:08x}{seq:024x}",
            ACCOUNT_SID,
            rng.choice(phones),
            BUSINESS_NUMBER,
            rng.choice(inbound_client.BODIES),
        )
        headers = {"X-Twilio-Signature": validator.compute_signature(PUBLIC_BASE_URL + PATH, form)}
        builder = EnvironBuilder(path=PATH, method="POST", data=form, headers=headers)
        try:
            environs.append(builder.get_environ())
        finally:
            builder.close()
    return environs


def call(app, environ: dict) -> None:
    status: list[str] = []
    chunks = app(environ, lambda s, _headers, _exc=None: status.append(s))
    try:
        b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    if not status or not status[0].startswith("200"):
        raise BenchError(f"inbound webhook answered {status} in-process")


def summary(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "mean_ms": round(statistics.fmean(times), 3),
        "p50_ms": round(times[len(times) // 2], 3),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
    }


class TransactionClock:
    """How long each transaction of `engine` runs, from its first statement to the COMMIT
    being sent. On SQLite the first write takes the one write lock (Regulars' first statement
    is BEGIN IMMEDIATE) and COMMIT lets it go: under load this hold time, not the CPU time,
    caps how many texts a second the file takes, however many processes serve them."""

    EVENTS = ("before_cursor_execute", "commit", "rollback")

    def __init__(self, engine):
        self.engine = engine
        self.spans: list[float] = []

    def _before_cursor_execute(self, conn, *_statement) -> None:
        conn.info.setdefault("bench_first_statement", time.perf_counter())

    def _commit(self, conn) -> None:
        began = conn.info.pop("bench_first_statement", None)
        if began is not None:
            self.spans.append((time.perf_counter() - began) * 1000)

    def _rollback(self, conn) -> None:
        conn.info.pop("bench_first_statement", None)

    def __enter__(self) -> TransactionClock:
        for name in self.EVENTS:
            sa.event.listen(self.engine, name, getattr(self, f"_{name}"))
        return self

    def __exit__(self, *exc) -> None:
        for name in self.EVENTS:
            sa.event.remove(self.engine, name, getattr(self, f"_{name}"))

    def mean_ms(self) -> float | None:
        return round(statistics.fmean(self.spans), 3) if self.spans else None


def interleaved(apps: dict, environs: dict[str, list[dict]]) -> dict:
    """Time each app's requests, one app's request after the other's: a machine whose speed
    moves (other jobs, CPU throttling) then moves both figures alike."""
    times: dict[str, list[float]] = {name: [] for name in apps}
    for batch in zip(*(environs[name] for name in apps), strict=True):
        for (name, app), environ in zip(apps.items(), batch, strict=True):
            began = time.perf_counter()
            call(app, environ)
            times[name].append((time.perf_counter() - began) * 1000)
    return {name: summary(values) for name, values in times.items()}


def where(path: str) -> str:
    """A short, stable name for a function's file: its package, or its path in the project."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if path.startswith(str(ROOT)):
        return path[len(str(ROOT)) + 1 :]
    if path.startswith(sys.base_prefix):
        return "stdlib/" + Path(path).name
    return path


def package(path: str, name: str) -> str:
    """Which layer owns a function's own time: app/, a library, the driver, or Python itself."""
    short = where(path)
    if path == "~":  # a built-in: its name says whose (e.g. "<method 'execute' of 'sqlite3...">)
        if "sqlite3" in name:
            return "sqlite3 (driver)"
        if "psycopg" in name:
            return "psycopg (driver, waits on the server)"
        return "python built-ins"
    if short.startswith("app/"):
        return "app (Regulars)"
    if short.startswith("scripts/"):
        return "reference handler"
    if short.startswith("stdlib/"):
        return "python stdlib"
    if short.startswith("psycopg"):
        return "psycopg (driver, waits on the server)"
    return short.split("/", 1)[0].split(".", 1)[0]


def name_of(key: tuple) -> str:
    path, line, func = key
    return func if path == "~" else f"{where(path)}:{line}:{func}"


def profiled(apps: dict, environs: dict[str, list[dict]]) -> dict[str, cProfile.Profile]:
    """One profiler per app, the apps' requests in turn, as for the timing."""
    profilers = {name: cProfile.Profile() for name in apps}
    for batch in zip(*(environs[name] for name in apps), strict=True):
        for (name, app), environ in zip(apps.items(), batch, strict=True):
            profilers[name].enable()
            call(app, environ)
            profilers[name].disable()
    return profilers


def breakdown(profiler: cProfile.Profile, n: int, own_code: str) -> dict:
    """A profile of `n` requests in ms per request: the top functions, own time per package,
    and the boundary view: how long the app's code spends in each library call it makes,
    and how long the framework spends around the app's code."""
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats

    def in_app(key: tuple) -> bool:
        return where(key[0]).startswith(own_code)

    def ms(seconds: float) -> float:
        return seconds * 1000 / n

    rows = []
    into_app = 0.0
    calls_out: dict[str, list[float]] = {}  # library function: [inclusive ms, calls]
    for key, (_cc, calls, own, inclusive, callers) in stats.items():
        rows.append(
            {
                "function": name_of(key),
                "package": package(key[0], key[2]),
                "calls_per_request": round(calls / n, 2),
                "own_ms": ms(own),
                "inclusive_ms": ms(inclusive),
            }
        )
        for caller, (_ccc, edge_calls, _own, edge_inclusive) in callers.items():
            if in_app(key) and not in_app(caller):
                into_app += ms(edge_inclusive)
            elif in_app(caller) and not in_app(key):
                out = calls_out.setdefault(name_of(key), [0.0, 0.0])
                out[0] += ms(edge_inclusive)
                out[1] += edge_calls / n
    total = sum(r["own_ms"] for r in rows)
    by_package: dict[str, float] = {}
    for r in rows:
        by_package[r["package"]] = by_package.get(r["package"], 0.0) + r["own_ms"]
    app_own = sum(r["own_ms"] for r, key in zip(rows, stats, strict=True) if in_app(key))
    inclusive = [
        r
        for r in sorted(rows, key=lambda r: -r["inclusive_ms"])
        if not any(w in r["function"] for w in WRAPPERS) and r["function"][0] != "<"
    ]

    def rounded(rs):
        return [{**r, "own_ms": round(r["own_ms"], 3), "inclusive_ms": round(r["inclusive_ms"], 3)}
                for r in rs]  # fmt: skip

    return {
        "profiled_ms_per_request": round(total, 3),
        "framework_around_app_ms": round(total - into_app, 3),
        "app_own_ms": round(app_own, 3),
        "app_calls_into": [
            {"function": f, "inclusive_ms": round(t, 3), "calls_per_request": round(c, 2)}
            for f, (t, c) in sorted(calls_out.items(), key=lambda kv: -kv[1][0])[:TOP]
        ],
        "own_ms_by_package": {
            k: round(v, 3) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        },
        "top_inclusive": rounded(inclusive[:TOP]),
        "top_own": rounded(sorted(rows, key=lambda r: -r["own_ms"])[:TOP]),
    }


def regulars_app(url: str):
    from app import create_app

    return create_app(
        {
            "ignore_environment": True,
            "env": "production",
            "database_url": url,
            "secret_key": SECRET_KEY,
            "sms_backend": "twilio",
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_api_base_url": "http://127.0.0.1:9",  # never used by the webhook
            "public_base_url": PUBLIC_BASE_URL,
            "embedded_worker": False,
        }
    )


def profile_kind(bench: Bench, kind: str, phones: list[str]) -> dict:
    opts = bench.opts
    n, warm = opts.profile_requests, opts.profile_warmup
    url = fresh_database(bench, kind, "profile")
    seed_regulars(url, app_env(url, PUBLIC_BASE_URL, bench.workdir), bench)
    # On PostgreSQL both use the one database (their tables differ); on SQLite a file each.
    ref_url = url if kind == "postgresql" else fresh_database(bench, kind, "profile-reference")
    apps = {
        "regulars": regulars_app(url),
        "reference": inbound_reference.create_app(ref_url, AUTH_TOKEN, PUBLIC_BASE_URL),
    }
    engines = [apps["regulars"].extensions["regulars"].engine]
    engines.append(apps["reference"].extensions["bench_engine"])
    inbound_reference.metadata.create_all(engines[1])
    environs = {
        name: iter(signed_environs(warm + 2 * n, seed, phones))
        for seed, name in enumerate(apps, start=7)
    }
    try:
        for name, app in apps.items():
            for _ in range(warm):
                call(app, next(environs[name]))
        measured = {name: [next(e) for _ in range(n)] for name, e in environs.items()}
        with TransactionClock(engines[0]) as regulars_tx, TransactionClock(engines[1]) as bare_tx:
            timing = interleaved(apps, measured)
        timing["regulars"]["transaction_open_ms"] = regulars_tx.mean_ms()
        timing["reference"]["transaction_open_ms"] = bare_tx.mean_ms()
        own_code = {"regulars": "app/", "reference": "scripts/benchmarks/inbound_reference.py"}
        measured = {name: [next(e) for _ in range(n)] for name, e in environs.items()}
        profiles = {
            name: breakdown(profiler, n, own_code[name])
            for name, profiler in profiled(apps, measured).items()
        }
    finally:
        for engine in engines:
            engine.dispose()
    problems = []
    for name, sql in (
        ("regulars", "SELECT count(*) FROM message WHERE direction = 'inbound'"),
        ("reference", "SELECT count(*) FROM bench_reference_inbound"),
    ):
        stored = count_rows(url if name == "regulars" else ref_url, sql)
        if stored != warm + 2 * n:
            problems.append(f"{name}: {warm + 2 * n} texts answered 200 but {stored} stored")
    return {
        "db": kind,
        "requests": n,
        "warmup": warm,
        "regulars": timing["regulars"],
        "reference": timing["reference"],
        "ratio": round(timing["reference"]["mean_ms"] / timing["regulars"]["mean_ms"], 3),
        "profile": profiles["regulars"],
        "reference_profile": profiles["reference"],
        "ok": not problems,
        "problems": problems,
    }


def run(bench: Bench) -> dict:
    phones = valid_customer_phones(1000)
    results = []
    for kind in bench.kinds:
        say(f"inbound profile: {kind}, in-process ...")
        results.append(profile_kind(bench, kind, phones))
        one = results[-1]
        say(
            f"  regulars {one['regulars']['mean_ms']:.2f} ms/request, reference "
            f"{one['reference']['mean_ms']:.2f} ms/request"
        )
    return {
        "by_db": results,
        "ok": all(r["ok"] for r in results),
        "targets_met": None,
        "other_load": None,
    }


def report(result: dict, bench: Bench) -> None:
    first = result["by_db"][0] if result["by_db"] else {"requests": 0, "warmup": 0}
    print(
        f"  inbound profile  in-process WSGI, one text at a time, {first['requests']} texts after "
        f"{first['warmup']} warm-up; ms per request"
    )
    for one in result["by_db"]:
        reg, ref, prof = one["regulars"], one["reference"], one["profile"]
        print(
            f"    {label(one['db']) + ':':<9} regulars {reg['mean_ms']:.2f} "
            f"(p50 {reg['p50_ms']:.2f}, p99 {reg['p99_ms']:.2f}) | reference "
            f"{ref['mean_ms']:.2f} (p50 {ref['p50_ms']:.2f}) | ratio {one['ratio']:.2f} | "
            f"transaction open: regulars {reg['transaction_open_ms']:.2f}, reference "
            f"{ref['transaction_open_ms']:.2f}"
            f"{'' if one['ok'] else '  CHECKS FAILED'}"
        )
        packages = ", ".join(
            f"{name} {ms:.2f}" for name, ms in list(prof["own_ms_by_package"].items())[:7]
        )
        bare = one["reference_profile"]
        print(
            f"      under cProfile: regulars {prof['profiled_ms_per_request']:.2f} = framework "
            f"around the view {prof['framework_around_app_ms']:.2f} + app/ "
            f"{prof['profiled_ms_per_request'] - prof['framework_around_app_ms']:.2f}; reference "
            f"{bare['profiled_ms_per_request']:.2f} = {bare['framework_around_app_ms']:.2f} + "
            f"{bare['profiled_ms_per_request'] - bare['framework_around_app_ms']:.2f}"
        )
        print(f"      own time by package: {packages}")
        print(f"      app/'s own lines {prof['app_own_ms']:.2f}; its calls out of app/:")
        for row in prof["app_calls_into"][:10]:
            calls = f"x{row['calls_per_request']:g}"
            print(f"      {row['inclusive_ms']:6.3f}  {calls:<5} {row['function']}")


SECTION = Section(
    name="profile",
    help="in-process ms per inbound text (Regulars vs reference) and a cProfile of its path",
    run=run,
    report=report,
    add_arguments=add_arguments,
)
