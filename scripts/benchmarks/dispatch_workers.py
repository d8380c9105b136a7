"""The processes that fill and drain the outbox, for the dispatch and memory sections.

`seed_outbox` migrates a fresh database and queues texts through the app's own
`queue_text` (kind "manual", customers with consent "granted"). Then one of two bodies runs
in each worker process, started with multiprocessing's spawn:

- `drain_worker`: Regulars. It builds the services the way `regulars worker` does and calls
  `Dispatcher.run_once()` until nothing more is claimed.
- `reference_worker`: the least a correct sender must do, with the same shape (claim a
  batch, send it with the same number of requests in flight, record it) and nothing else:
  no rules, no pacing, no ORM, no Twilio SDK.

Both report through the same handshake (ready, wait for start, drain, done with timing,
CPU and peak memory, then stay until released so the bench can read their CPU in /proc).
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta


def rss_kib() -> int:
    """The current resident set size of this process, in KiB (from /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def app_config(spec: dict) -> dict:
    """Settings for build_services, independent of the caller's environment and .env."""
    return {
        "ignore_environment": True,
        "env": "production",
        "database_url": spec["database_url"],
        "secret_key": spec["secret_key"],
        "sms_backend": "twilio",
        "twilio_account_sid": spec["account_sid"],
        "twilio_auth_token": spec["auth_token"],
        "twilio_api_base_url": spec["twilio_base_url"],
        "public_base_url": spec["public_base_url"],
        "pacing": False,
    }


def seed_outbox(spec: dict, *, texts: int, customers: int, business_number: str) -> dict:
    """Migrate spec["database_url"] (already empty) and queue `texts` manual texts, all through
    the app's own functions (so the rows are what the app writes)."""
    from sqlalchemy import text
    from sqlmodel import Session

    from app.care.businesses import create_business
    from app.care.customers import find_or_create, set_consent
    from app.care.outbound import queue_text
    from app.db import is_postgres, make_engine
    from app.migrate import upgrade

    now = datetime.now(UTC)
    engine = make_engine(spec["database_url"])
    try:
        upgrade(engine)
        started = time.monotonic()
        with Session(engine, expire_on_commit=False) as session:
            business, _key = create_business(
                session,
                name="Bench Salon",
                number=business_number,
                timezone="America/New_York",
                owner_email="owner@bench.example",
                owner_password="bench-password-0123",
                now=now,
            )
            people = []
            for i in range(customers):
                customer, _created = find_or_create(
                    session, business, f"+1212555{2000 + i:04d}", name=f"Customer {i}", now=now
                )
                set_consent(session, customer, "granted", source="form", now=now)
                people.append(customer)
            session.commit()
            for i in range(texts):
                customer = people[i % len(people)]
                queue_text(
                    session,
                    business,
                    customer,
                    f"Hi {customer.first_name}, your order #{i} is ready for pick-up.",
                    "manual",
                    now=now,
                )
            session.commit()
        if is_postgres(engine):
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        return {"seconds": time.monotonic() - started, "business_id": business.id}
    finally:
        engine.dispose()


def _worker_life(worker_id: str, start, release, results, setup: Callable) -> None:
    """The handshake both kinds of worker share; `setup()` returns (drain, close)."""
    try:
        drain, close = setup()
        rss_ready = rss_kib()
        results.put(("ready", worker_id, None))
        if not start.wait(120):
            raise RuntimeError("no start signal")
        began = time.monotonic()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        counts = drain()
        finished = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report = {
            "began": began,
            "finished": finished,
            "rss_ready_kib": rss_ready,
            "max_rss_kib": usage.ru_maxrss,
            "cpu_seconds": (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime),
            **counts,
        }
        results.put(("done", worker_id, report))
        release.wait(60)
        close()
    except BaseException as exc:  # report, so the bench does not wait for a dead worker
        results.put(("error", worker_id, repr(exc)[:500]))
        raise


def drain_worker(spec: dict, worker_id: str, start, release, results) -> None:
    """One Regulars worker process: drain the outbox with `Dispatcher.run_once()`."""

    def setup():
        if spec.get("log_file"):
            # What `regulars worker` does (app.cli.main), into a file instead of stderr.
            logging.basicConfig(
                filename=spec["log_file"],
                level=logging.INFO,
                format="%(asctime)s %(name)s %(levelname)s %(message)s",
            )
        from app import build_services
        from app.care.dispatcher import Dispatcher, RunStats

        services = build_services(app_config(spec))
        dispatcher = Dispatcher(
            services.engine, services.gateway, services.settings, worker_id=worker_id
        )
        with services.engine.connect():
            pass  # open the first connection before the clock starts, like a running worker

        def drain() -> dict:
            total = RunStats()
            calls = 0
            while True:
                stats = dispatcher.run_once()
                calls += 1
                total.add(stats)
                if stats.claimed == 0:
                    break
            return {
                "run_once_calls": calls,
                "claimed": total.claimed,
                "sent": total.sent,
                "failed": total.failed,
                "retried": total.retried,
                "unknown": total.unknown,
                "canceled": total.canceled,
                "rescheduled": total.rescheduled,
            }

        def close() -> None:
            dispatcher.close()
            services.engine.dispose()

        return drain, close

    _worker_life(worker_id, start, release, results, setup)


def settings_for(spec: dict):
    """The settings a Regulars worker gets from `spec`: the reference copies its batch size
    and concurrency from them, so both always run with the same."""
    from app.config import load_settings

    return load_settings(app_config(spec))


def outbox_table():
    """The columns of the app's `message` table that a bare sender touches."""
    import sqlalchemy as sa

    return sa.Table(
        "message",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("from_number", sa.String),
        sa.Column("to_number", sa.String),
        sa.Column("body", sa.Text),
        sa.Column("status", sa.String),
        sa.Column("provider_sid", sa.String),
        sa.Column("provider_status", sa.String),
        sa.Column("send_at", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("leased_by", sa.String),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )


def reference_worker(spec: dict, worker_id: str, start, release, results) -> None:
    """One reference sender process: claim due texts, post them, mark them sent."""

    def setup():
        import requests
        import sqlalchemy as sa

        from .common import reference_engine

        engine = reference_engine(spec["database_url"])
        outbox = outbox_table()
        due = (
            sa.select(outbox.c.id)
            .where(outbox.c.status == "scheduled", outbox.c.send_at <= sa.bindparam("now"))
            .order_by(outbox.c.send_at, outbox.c.id)
            .limit(spec["batch_size"])
        )
        if engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)  # several senders share the outbox
        claim = (
            sa.update(outbox)
            .where(outbox.c.id.in_(due))
            .values(status="sending", leased_by=worker_id, lease_until=sa.bindparam("lease"))
            .returning(outbox.c.id, outbox.c.from_number, outbox.c.to_number, outbox.c.body)
        )
        mark_sent = (
            sa.update(outbox)
            .where(outbox.c.id == sa.bindparam("mid"), outbox.c.status == "sending")
            .values(
                status="sent",
                provider_sid=sa.bindparam("sid"),
                provider_status="queued",
                sent_at=sa.bindparam("at"),
                lease_until=None,
            )
        )
        api = f"{spec['twilio_base_url']}/2010-04-01/Accounts/{spec['account_sid']}/Messages.json"
        callback = f"{spec['public_base_url']}/webhooks/twilio/status?mid="
        local = threading.local()

        def post(row) -> dict:
            # requests is what the Twilio SDK sends with: the ratio then shows what the
            # dispatcher adds on top of HTTP, not the difference between two HTTP clients.
            http = getattr(local, "http", None)
            if http is None:
                http = local.http = requests.Session()
                http.auth = (spec["account_sid"], spec["auth_token"])
            response = http.post(
                api,
                data={
                    "To": row.to_number,
                    "From": row.from_number,  # queue_text writes the business's number
                    "Body": row.body,
                    "StatusCallback": f"{callback}{row.id}",
                },
                timeout=10,
            )
            response.raise_for_status()
            return {"mid": row.id, "sid": response.json()["sid"]}

        pool = ThreadPoolExecutor(max_workers=spec["concurrency"], thread_name_prefix="send")
        with engine.connect():
            pass  # the first connection before the clock starts, as for Regulars

        def drain() -> dict:
            batches = claimed = 0
            while True:
                now = datetime.now(UTC)
                with engine.begin() as conn:
                    rows = conn.execute(claim, {"now": now, "lease": now + timedelta(minutes=5)})
                    rows = rows.all()
                if not rows:
                    break
                batches += 1
                claimed += len(rows)
                sent = list(pool.map(post, rows))
                at = datetime.now(UTC)
                with engine.begin() as conn:
                    conn.execute(mark_sent, [{**one, "at": at} for one in sent])
            return {"batches": batches, "claimed": claimed, "sent": claimed}

        def close() -> None:
            pool.shutdown()
            engine.dispose()

        return drain, close

    _worker_life(worker_id, start, release, results, setup)
