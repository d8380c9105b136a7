"""The processes that fill and drain the outbox, for the dispatch, memory and broadcast
sections.

`seed_outbox` migrates a fresh database and queues texts through the app's own
`queue_text` (kind "manual", customers with consent "granted"). `seed_audience` makes a
business with many customers at once (bulk rows shaped as the app's own), and
`queue_manual` gives each of them one manual text (one through `queue_text`, the rest as
copies of its row). Then one of two bodies runs in each worker process, started with
multiprocessing's spawn:

- `drain_worker`: Regulars. It builds the services the way `regulars worker` does and calls
  `Dispatcher.run_once()` until nothing more is claimed (with spec["until_broadcasts_done"],
  until no broadcast is left sending either, waiting WORKER_POLL_SECONDS between empty runs
  as `regulars worker` does). Its clock is the real one, moved by
  spec["clock_offset_seconds"] when given (`OffsetClock`).
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
        "pacing": bool(spec.get("pacing", False)),
    }


class OffsetClock:
    """The real clock moved by a fixed number of seconds: it runs at the real pace (pacing
    and leases behave as in production) but reads a chosen time of day, so recipients'
    sending windows are open whenever the bench runs."""

    def __init__(self, offset_seconds: float):
        self.offset = timedelta(seconds=offset_seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def clock_of(spec: dict) -> OffsetClock:
    return OffsetClock(spec.get("clock_offset_seconds", 0.0))


def analyze(engine) -> None:
    """Fresh statistics on PostgreSQL once a seed is in, as autovacuum would soon make them."""
    from sqlalchemy import text

    from app.db import is_postgres

    if is_postgres(engine):
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def seed_outbox(spec: dict, *, texts: int, customers: int, business_number: str) -> dict:
    """Migrate spec["database_url"] (already empty) and queue `texts` manual texts, all through
    the app's own functions (so the rows are what the app writes)."""
    from sqlmodel import Session

    from app.care.businesses import create_business
    from app.care.customers import find_or_create, set_consent
    from app.care.outbound import queue_text
    from app.db import make_engine
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
        analyze(engine)
        return {"seconds": time.monotonic() - started, "business_id": business.id}
    finally:
        engine.dispose()


# Where an audience lives: area codes of four states without hours of their own, in three
# time zones (New York, Massachusetts, Illinois, Washington), three exchanges each.
AREAS = ("212", "617", "312", "206")
EXCHANGES = ("555", "634", "728")
CHUNK = 5000  # rows per INSERT while seeding


def audience_phone(i: int) -> str:
    """The i-th customer's number (distinct for the first 120,000: 10,000 per exchange)."""
    area = AREAS[i % len(AREAS)]
    exchange = EXCHANGES[(i // len(AREAS)) % len(EXCHANGES)]
    return f"+1{area}{exchange}{(i // (len(AREAS) * len(EXCHANGES))) % 10000:04d}"


def seed_audience(spec: dict, *, businesses: list[dict], now: datetime) -> dict:
    """Migrate spec["database_url"] (already empty) and make each business of `businesses`
    ({name, number, customers, send_rate_per_second}) with its customers, consent granted,
    as bulk rows shaped like the app's own. Returns the seconds and each business's id."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from app.care.businesses import create_business
    from app.db import make_engine
    from app.migrate import upgrade
    from app.models import Customer

    engine = make_engine(spec["database_url"])
    try:
        upgrade(engine)
        started = time.monotonic()
        ids = []
        with Session(engine, expire_on_commit=False) as session:
            for n, wanted in enumerate(businesses):
                business, _key = create_business(
                    session, name=wanted["name"], number=wanted["number"],
                    timezone="America/New_York", owner_email=f"owner{n}@bench.example",
                    owner_password="bench-password-0123", now=now,
                )  # fmt: skip
                business.broadcast_daily_cap = max(business.broadcast_daily_cap,
                                                   wanted["customers"] * 2)  # fmt: skip
                business.send_rate_per_second = wanted["send_rate_per_second"]
                session.add(business)
                session.flush()
                ids.append(business.id)
                shape = Customer(business_id=business.id, phone="", consent="granted",
                                 consent_source="form", consent_at=now,
                                 created_at=now).model_dump(exclude={"id"})  # fmt: skip
                table = Customer.__table__  # type: ignore[attr-defined]
                for first in range(0, wanted["customers"], CHUNK):
                    last = min(first + CHUNK, wanted["customers"])
                    session.execute(insert(table), [
                        {**shape, "phone": audience_phone(i), "name": f"Guest {i}"}
                        for i in range(first, last)
                    ])  # fmt: skip
            session.commit()
        analyze(engine)
        return {"seconds": time.monotonic() - started, "business_ids": ids}
    finally:
        engine.dispose()


def queue_manual(spec: dict, *, business_id: int, now: datetime) -> dict:
    """One manual text to every customer of the business: the first through the app's own
    `queue_text`, the rest as copies of its row (their own customer, number and words)."""
    from sqlalchemy import insert, select
    from sqlmodel import Session, col

    from app.care.outbound import queue_text
    from app.db import make_engine
    from app.models import Business, Customer, Message

    engine = make_engine(spec["database_url"])
    try:
        started = time.monotonic()
        with Session(engine, expire_on_commit=False) as session:
            business = session.get_one(Business, business_id)
            people = session.execute(
                select(col(Customer.id), col(Customer.phone), col(Customer.name))
                .where(col(Customer.business_id) == business_id).order_by(col(Customer.id))
            ).all()  # fmt: skip
            words = "Hi {}, your order #{} is ready for pick-up."
            first = session.get_one(Customer, people[0].id)
            shape = queue_text(session, business, first, words.format(first.first_name, 0),
                               "manual", now=now).model_dump(exclude={"id"})  # fmt: skip
            session.flush()
            table = Message.__table__  # type: ignore[attr-defined]
            for start in range(1, len(people), CHUNK):
                session.execute(insert(table), [
                    {**shape, "customer_id": who.id, "to_number": who.phone,
                     "body": words.format(who.name.split(" ")[0], i)}
                    for i, who in enumerate(people[start : start + CHUNK], start)
                ])  # fmt: skip
            session.commit()
        analyze(engine)
        return {"seconds": time.monotonic() - started, "texts": len(people)}
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
        dispatcher = Dispatcher(services.engine, services.gateway, services.settings,
                                clock=clock_of(spec), worker_id=worker_id)  # fmt: skip
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
                    if not spec.get("until_broadcasts_done") or not broadcasts_left(services):
                        break
                    time.sleep(services.settings.worker_poll_seconds)
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


def broadcasts_left(services) -> bool:
    """Is a broadcast still sending (or due to start)?"""
    from sqlmodel import Session, col, select

    from app.models import Broadcast, BroadcastState

    with Session(services.engine) as session:
        live = (BroadcastState.SENDING, BroadcastState.SCHEDULED)
        found = session.exec(select(Broadcast.id).where(col(Broadcast.state).in_(live))).first()
        return found is not None


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
