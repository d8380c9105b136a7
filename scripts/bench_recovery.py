"""How fast a killed worker's texts come back, and that none of them goes twice.

A worker process (`regulars worker`, default settings) takes a batch of texts and is killed
with SIGKILL mid-batch, while a local stand-in for Twilio holds some of its requests: it has
created those messages (queued, not sent yet, so they have no DateSent) but not answered. A
second worker starts at once, as a supervisor would start it. The figure is the time from the
kill until the last text of the batch is settled (`sent`), and the check is that the stand-in
created every text exactly once.

The texts come from different shops' numbers (one each by default): a number sends about one
text a second (DESIGN.md), so twenty texts from one number take twenty seconds killed or
not, and would measure pacing rather than recovery.

    python scripts/bench_recovery.py [--texts 20] [--database-url URL]

With no --database-url it uses a fresh SQLite file. A PostgreSQL URL must name a database the
bench may empty: its public schema is dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-recovery-auth-token"
PUBLIC_BASE = "https://regulars.bench"
TARGET_SECONDS = 15.0
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")


# ---- a stand-in for Twilio's Messages API ----------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # a killed worker's socket is no news


class StandIn:
    """CreateMessage and ListMessage, in process. A created message stays `queued`, with no
    DateSent, for `queue_seconds` (as Twilio keeps texts behind a sender's rate), then is
    `sent`; its answer waits `answer_delay` seconds after it was created, so a worker killed
    meanwhile never hears of it."""

    def __init__(self, answer_delay: float = 0.3, queue_seconds: float = 60.0):
        self.answer_delay = answer_delay
        self.queue_seconds = queue_seconds
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.mids: Counter[int] = Counter()
        self.answered = 0
        self.lists = 0
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def created(self) -> int:
        with self.lock:
            return len(self.messages)

    def counts(self) -> dict:
        with self.lock:
            return {
                "created": len(self.messages),
                "answered": self.answered,
                "lists": self.lists,
                "distinct": len(self.mids),
                "duplicates": sum(n - 1 for n in self.mids.values() if n > 1),
            }

    def _create(self, account: str, form: dict) -> dict:
        mid = parse_qs(urlsplit(form.get("StatusCallback", "")).query).get("mid", ["0"])[0]
        now = datetime.now(UTC)
        sid = "SM" + uuid.uuid4().hex
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "created": now,
            "date_created": format_datetime(now, usegmt=True),
            "date_sent": None,
            "date_updated": format_datetime(now, usegmt=True),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        with self.lock:
            self.messages.append(message)
            self.mids[int(mid) if mid.isdigit() else 0] += 1
        return message

    def _list(self, account: str, query: dict) -> dict:
        now = datetime.now(UTC)
        with self.lock:
            self.lists += 1
            for message in self.messages:
                sent_at = message["created"] + timedelta(seconds=self.queue_seconds)
                if message["date_sent"] is None and sent_at <= now:
                    message["status"] = "sent"
                    message["date_sent"] = format_datetime(sent_at, usegmt=True)
            listed = [m for m in reversed(self.messages) if m["to"] == query.get("To", [""])[0]]
            listed = [{k: v for k, v in m.items() if k != "created"} for m in listed]
        if "From" in query:
            listed = [m for m in listed if m["from"] == query["From"][0]]
        if {"DateSent", "DateSent>", "DateSent<"} & set(query):
            listed = [m for m in listed if m["date_sent"] is not None]  # as Twilio filters
        size = int(query.get("PageSize", ["50"])[0])
        uri = f"/2010-04-01/Accounts/{account}/Messages.json"
        return {"messages": listed[:size], "start": 0, "end": max(len(listed[:size]) - 1, 0),
                "page": 0, "page_size": size, "first_page_uri": uri, "previous_page_uri": None,
                "next_page_uri": None, "uri": uri}  # fmt: skip

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                match = MESSAGES_PATH.match(url.path)
                if not match:
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                self._answer(200, stand_in._list(match.group(1), parse_qs(url.query)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:
                    return  # the worker died while writing: Twilio never gets such a request
                match = MESSAGES_PATH.match(urlsplit(self.path).path)
                if not match:
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                message = stand_in._create(match.group(1), form)
                time.sleep(stand_in.answer_delay)
                try:
                    self._answer(201, {k: v for k, v in message.items() if k != "created"})
                except OSError:
                    return  # the worker died waiting for this answer
                with stand_in.lock:
                    stand_in.answered += 1

        return Handler


# ---- the scenario -------------------------------------------------------------------------


def seed(database_url: str, texts: int) -> list[int]:
    """Queue `texts` texts, each from its own shop to its own customer (consent granted), in a
    migrated, empty database; returns their ids."""
    from sqlmodel import Session

    from app.care.outbound import queue_text
    from app.db import make_engine
    from app.models import Business, Customer

    now = datetime.now(UTC) - timedelta(seconds=1)
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            ids = []
            for i in range(texts):
                shop = Business(name=f"Shop {i}", number=f"+1212555{100 + i:04d}",
                                timezone="America/New_York")  # fmt: skip
                session.add(shop)
                session.flush()
                customer = Customer(
                    business_id=shop.id, phone=f"+1212555{2000 + i:04d}", name=f"Customer {i}",
                    consent="granted", consent_source="form", consent_at=now,
                    introduced_at=now, created_at=now,
                )  # fmt: skip
                session.add(customer)
                session.flush()
                body = f"Hi Customer {i}, your order #{i} is ready for pick-up."
                ids.append(queue_text(session, shop, customer, body, "manual", now=now).id)
            session.commit()
        return ids
    finally:
        engine.dispose()


def worker_env(database_url: str, twilio_base_url: str, **overrides: str) -> dict:
    """`regulars worker` as an operator runs it, against the stand-in; settings at defaults."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "LEASE"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "DATABASE_URL": database_url,
        "REGULARS_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio_base_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        **overrides,
    }


def _start_worker(env: dict, workdir: Path, name: str) -> subprocess.Popen:
    with open(workdir / f"{name}.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=workdir,
                                env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def _states(engine, ids: list[int]) -> Counter:
    from sqlmodel import Session, select

    from app.models import Message

    with Session(engine) as session:
        return Counter(session.exec(select(Message.status).where(Message.id.in_(ids))).all())


def kill_mid_batch(
    database_url: str,
    *,
    texts: int = 20,
    kill_after: int | None = None,
    answer_delay: float = 0.3,
    timeout: float = 120.0,
    env: dict | None = None,
    workdir: Path | None = None,
) -> dict:
    """Run the scenario on a migrated, empty database and report what happened. `kill_after`
    is how many texts the stand-in has created when the first worker is killed (half the
    batch by default); `env` overrides worker settings."""
    from app.db import make_engine

    ids = seed(database_url, texts)
    kill_after = max(1, texts // 2 if kill_after is None else kill_after)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-recovery-"))
    engine = make_engine(database_url)
    second = None
    with StandIn(answer_delay) as stand_in:
        environment = worker_env(database_url, stand_in.base_url, **(env or {}))
        first = _start_worker(environment, workdir, "first")
        try:
            deadline = time.monotonic() + timeout
            while stand_in.created() < kill_after:
                if first.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the first worker sent nothing (see {workdir})")
                time.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            first.wait(10)
            at_kill = stand_in.counts()
            second = _start_worker(environment, workdir, "second")
            held = _states(engine, ids)
            settled, states = None, held
            while time.monotonic() < killed + timeout:
                states = _states(engine, ids)
                if states["sent"] + states["delivered"] == texts:
                    settled = time.monotonic() - killed
                    break
                time.sleep(0.05)
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()
            engine.dispose()
        counts = stand_in.counts()
    exactly_once = counts["created"] == texts and counts["distinct"] == texts
    return {
        "texts": texts,
        "created_at_kill": at_kill["created"],
        "unanswered_at_kill": at_kill["created"] - at_kill["answered"],
        "sending_at_kill": held["sending"],
        "final_states": dict(states),
        "settle_seconds": None if settled is None else round(settled, 2),
        "created": counts["created"],
        "duplicates": counts["duplicates"],
        "reconciliation_lists": counts["lists"],
        "exactly_once": exactly_once,
        "target_seconds": TARGET_SECONDS,
        "meets_target": settled is not None and settled < TARGET_SECONDS and exactly_once,
        "logs": str(workdir),
    }


def _fresh_database(url: str | None, workdir: Path) -> str:
    from sqlalchemy import text

    from app.db import make_engine
    from app.migrate import upgrade

    url = url or f"sqlite:///{workdir / 'recovery.db'}"
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def run(args: argparse.Namespace) -> dict:
    """The bench's entry point: a fresh database, the scenario, the figure printed."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    url = _fresh_database(getattr(args, "database_url", None), workdir)
    result = kill_mid_batch(url, texts=getattr(args, "texts", 20), workdir=workdir)
    settled = result["settle_seconds"]
    figure = "never" if settled is None else f"{settled:.1f} s"
    print(
        f"worker killed mid-batch: {result['texts']} texts settled {figure} after SIGKILL "
        f"(target < {TARGET_SECONDS:.0f} s), {result['unanswered_at_kill']} unanswered at the "
        f"kill, {result['duplicates']} sent twice"
        f"{'' if result['meets_target'] else '  MISSED'}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["exactly_once"] else 1)


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main()
