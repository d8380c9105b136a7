"""What every section of the bench shares: the processes it starts, its databases, CPU
accounting, statistics and the shape of a section.

A section is a `Section` (name, one line of help, its own options, `run`, `report`); the
runner (`__main__.py`) lists them. `run(bench)` returns a JSON-ready dict with at least
`ok` (every correctness check passed), `targets_met` (True, False, or None when the section
has no target) and `other_load` (the largest share of the CPUs that processes outside the
bench used during a measured window, or None). `report(result, bench)` prints its rows.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent
SCRIPTS = PACKAGE.parent
BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123"
BUSINESS_NUMBER = "+12125550100"
PUBLIC_BASE_URL = "https://regulars.bench.invalid"
NOISY = 0.10  # other processes' share of the CPUs above which a run is flagged
KINDS = ("sqlite", "postgresql")
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
    """Progress, on stderr: stdout carries only the table and the JSON line."""
    print(text, file=sys.stderr, flush=True)


def label(kind: str) -> str:
    return "postgres" if kind == "postgresql" else kind


def mark(ok: bool) -> str:
    return "OK  " if ok else "MISS"


# ---- the shape of a section --------------------------------------------------------------------


@dataclass
class Bench:
    """One invocation: its options, the databases asked for, and a scratch directory."""

    opts: argparse.Namespace
    kinds: list[str]
    workdir: Path


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: Callable[[Bench], dict]
    report: Callable[[dict, Bench], None]
    add_arguments: Callable[[argparse._ArgumentGroup], None] | None = None
    kinds: tuple[str, ...] = field(default=KINDS)  # the databases it can measure


def abba(rounds: int, first: str, second: str) -> list[tuple[int, str]]:
    """(round, target) in the order A B B A A B ...: a machine that slows down or speeds up
    during the section favours neither side."""
    order = []
    for round_no in range(rounds):
        pair = (first, second) if round_no % 2 == 0 else (second, first)
        order += [(round_no, target) for target in pair]
    return order


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[index]


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


# ---- CPU accounting ---------------------------------------------------------------------------

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


def cpu_usage(before: CpuSnapshot, after: CpuSnapshot, server_pgid: int | None, ours: set[int],
              dbname: str | None) -> dict:  # fmt: skip
    """CPU used between two snapshots: by the server's process group, and by everything that
    is not this bench (all process time minus the servers, clients, bench and our PostgreSQL
    backends, which live through the window; plus hypervisor steal)."""
    server = mine = 0
    for pid, (jiffies, pgrp, comm) in after.procs.items():
        delta = jiffies - before.procs.get(pid, (0, 0, ""))[0]
        if delta <= 0:
            continue
        if server_pgid is not None and pgrp == server_pgid:
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


def postgres_dbname(url: str) -> str | None:
    return sa.engine.make_url(url).database


@contextlib.contextmanager
def postgres_admin(url: str):
    """An autocommit psycopg connection to the `postgres` database of `url`'s server, as
    `createdb` uses: databases are made and dropped from outside themselves."""
    import psycopg

    parsed = sa.engine.make_url(url)
    params = parsed.translate_connect_args(username="user", database="dbname")
    params.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})
    params["dbname"] = "postgres"
    try:
        with psycopg.connect(**params, autocommit=True, connect_timeout=10) as conn:
            yield conn
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {render_url(url)}: {exc}") from exc


def create_database(url: str, name: str, template: str | None = None) -> None:
    from psycopg import sql

    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with postgres_admin(url) as admin:
        admin.execute(statement)


def drop_database(url: str, name: str) -> None:
    from psycopg import sql

    with postgres_admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def ensure_postgres_database(url: str) -> bool:
    """Create the database `url` names when the server does not have it yet; True if created.

    A newcomer's fresh PostgreSQL has no `bench` database, and the bench should not stop on
    that.
    """
    from psycopg import errors, sql

    name = sa.engine.make_url(url).database
    if not name:
        raise BenchError(f"{render_url(url)} names no database")
    with postgres_admin(url) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:
            return False  # another bench made it a moment ago: just as good
    return True


def render_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET lock_timeout = '15s'"))
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def fresh_database(bench: Bench, kind: str, name: str) -> str:
    """An empty database for one run: a new SQLite file, or the PostgreSQL one wiped."""
    if kind == "sqlite":
        path = bench.workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    reset_postgres(bench.opts.pg_url)
    return bench.opts.pg_url


def reference_engine(url: str) -> sa.Engine:
    """The engine of the references: on SQLite the connection pragmas Regulars sets (WAL,
    synchronous=NORMAL, busy timeout), so a reference pays the same price per commit."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_size=10, max_overflow=20)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


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


def our_dbname(kind: str, url: str) -> str | None:
    """The PostgreSQL database whose backends count as the bench's own CPU, if any."""
    return postgres_dbname(url) if kind == "postgresql" else None


def app_env(database_url: str, public_base_url: str, workdir: Path) -> dict:
    """The environment of a Regulars process, free of whatever the caller's shell has set."""
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
