"""The dispatcher part of scripts/bench: fill the outbox, then drain it from worker processes.

`seed_outbox` migrates a fresh database and queues texts through the app's own
`queue_text` (kind "manual", customers with consent "granted"). `drain_worker` is the body
of one worker process: it builds the services the way `regulars worker` does, waits for the
start signal, calls `Dispatcher.run_once()` until nothing more is claimed, and reports its
timing, stats and peak memory.
"""

from __future__ import annotations

import logging
import resource
import time
from datetime import UTC, datetime


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


def drain_worker(spec: dict, worker_id: str, start, release, results) -> None:
    """One worker process: wait for `start`, drain the outbox, put a report on `results`, then
    stay (connection open) until `release`, so the bench can still see its CPU time in /proc."""
    try:
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
        rss_ready = rss_kib()
        results.put(("ready", worker_id, None))
        if not start.wait(120):
            raise RuntimeError("no start signal")
        began = time.monotonic()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        total = RunStats()
        calls = 0
        while True:
            stats = dispatcher.run_once()
            calls += 1
            total.add(stats)
            if stats.claimed == 0:
                break
        finished = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        results.put(
            (
                "done",
                worker_id,
                {
                    "began": began,
                    "finished": finished,
                    "run_once_calls": calls,
                    "claimed": total.claimed,
                    "sent": total.sent,
                    "failed": total.failed,
                    "retried": total.retried,
                    "unknown": total.unknown,
                    "canceled": total.canceled,
                    "rescheduled": total.rescheduled,
                    "rss_ready_kib": rss_ready,
                    "max_rss_kib": usage.ru_maxrss,
                    "cpu_seconds": (usage.ru_utime - usage0.ru_utime)
                    + (usage.ru_stime - usage0.ru_stime),
                },
            )
        )
        release.wait(60)
        dispatcher.close()
        services.engine.dispose()
    except BaseException as exc:  # report, so the bench does not wait for a dead worker
        results.put(("error", worker_id, repr(exc)[:500]))
        raise
