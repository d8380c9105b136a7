"""Server time of the owner's busiest pages on a big shop: the inbox and a long conversation
with 100,000 customers and 1,000,000 messages in the database, on SQLite and PostgreSQL.

Run by scripts/bench (`scripts/bench pages`). The database is filled with bulk inserts
(COPY on PostgreSQL), then each page is requested in-process through the WSGI app (no
network, no browser: the server's own time), after a warm-up, by a signed-in owner.
Reports the median and p90 in milliseconds against the issue's target (median under 50 ms).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .common import Bench, Section, label, mark, percentile, say

TARGET_MEDIAN_MS = 50.0
OWNER_EMAIL = "owner@bench.example"
OWNER_PASSWORD = "bench owner password"
FAST_HASH = "pbkdf2:sha256:1000"
SECRET_KEY = "bench-pages-secret-key-0123456789abcdef"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
WORDS = [
    "thanks",
    "see",
    "you",
    "friday",
    "color",
    "cut",
    "booked",
    "great",
    "can",
    "I",
    "move",
    "my",
    "appointment",
    "to",
    "next",
    "week",
]


def _column_values(table: sa.Table, row: dict) -> list:
    """Every column but the id, with the model's scalar default where the row has none."""
    values = []
    for column in table.columns:
        if column.primary_key:
            continue
        if column.name in row:
            values.append(row[column.name])
        elif column.default is not None and column.default.is_scalar:
            values.append(column.default.arg)
        elif column.default is not None and column.default.is_callable and column.name == "tags":
            values.append([])
        else:
            values.append(None)
    return values


def _insert(connection, table: sa.Table, rows: list[dict]) -> None:
    if connection.dialect.name == "postgresql":
        columns = [c for c in table.columns if not c.primary_key]
        names = ", ".join(c.name for c in columns)
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                values = _column_values(table, row)
                copy.write_row([json.dumps(v) if isinstance(v, list | dict) else v for v in values])
    else:
        connection.execute(table.insert(), rows)


def fill(engine, customers: int, messages: int, long_thread: int, seed: int = 7) -> dict:
    """One business with `customers` customers and `messages` texts; one customer has a
    conversation of `long_thread` texts. Returns ids to request."""
    from app.care.businesses import create_business
    from app.db import unit_of_work
    from app.models import Customer, Message

    rng = random.Random(seed)
    with unit_of_work(engine) as session:  # (care code never commits: the business is kept)
        business, _ = create_business(
            session,
            name="Bench Salon",
            number="+12125550100",
            timezone="America/New_York",
            owner_email=OWNER_EMAIL,
            owner_password=OWNER_PASSWORD,
            now=NOW,
            password_method=FAST_HASH,
        )
        business_id = business.id
    customer_table, message_table = Customer.__table__, Message.__table__
    started = time.monotonic()
    batch = 20_000
    with engine.begin() as connection:
        for start in range(0, customers, batch):
            rows = []
            for n in range(start, min(start + batch, customers)):
                activity = NOW - timedelta(minutes=(customers - n) * 3)
                rows.append(
                    {
                        "business_id": business_id,
                        "phone": f"+1212{n:07d}",
                        "name": f"Customer {n:06d}",
                        "tags": [],
                        "consent": "granted",
                        "consent_source": "import",
                        "consent_at": activity,
                        "number_status": "ok",
                        "last_activity_at": activity,
                        "last_inbound_at": activity,
                        "last_message_preview": " ".join(rng.choice(WORDS) for _ in range(8)),
                        "unread_count": rng.choice((0, 0, 0, 1, 2)),
                        "needs_reply": rng.random() < 0.2,
                        "notes": "",
                        "created_at": activity,
                    }
                )
            _insert(connection, customer_table, rows)
        first_id = connection.execute(
            sa.select(sa.func.min(customer_table.c.id)).where(
                customer_table.c.business_id == business_id
            )
        ).scalar_one()
    say(f"  {customers:,} customers in {time.monotonic() - started:.1f} s")
    long_id = first_id + customers - 1  # the newest conversation is also the longest
    started = time.monotonic()
    with engine.begin() as connection:
        written = 0
        while written < messages:
            rows = []
            for _ in range(min(batch, messages - written)):
                if written < long_thread:
                    customer_id = long_id
                else:
                    customer_id = first_id + rng.randrange(customers)
                inbound = rng.random() < 0.45
                when = NOW - timedelta(seconds=(messages - written) * 7)
                rows.append(
                    {
                        "business_id": business_id,
                        "customer_id": customer_id,
                        "direction": "inbound" if inbound else "outbound",
                        "body": " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24))),
                        "kind": "manual" if inbound or rng.random() < 0.5 else "thank_you",
                        "status": "received"
                        if inbound
                        else rng.choice(("delivered", "sent", "failed")),
                        "segments": 1,
                        "encoding": "GSM-7",
                        "cause": "inbound" if inbound else "user",
                        "attempts": 0 if inbound else 1,
                        "created_at": when,
                        "send_at": None if inbound else when,
                        "sent_at": None if inbound else when,
                    }
                )
                written += 1
            _insert(connection, message_table, rows)
    say(f"  {messages:,} messages in {time.monotonic() - started:.1f} s")
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()
    return {"business_id": business_id, "long_customer_id": long_id}


def measure(client, path: str, rounds: int, warmup: int, headers=None, status=200) -> dict:
    for _ in range(warmup):
        response = client.get(path, headers=headers)
        assert response.status_code == status, (path, response.status_code)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == status, (path, response.status_code)
    times.sort()
    return {
        "path": path,
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(len(times) * 0.9) - 1], 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "requests": rounds,
    }


def fresh_services(kind: str, database_url: str, clock=None):
    """Regulars' services on an empty database at the newest migration (PostgreSQL's public
    schema dropped and made again), as every page bench starts."""
    from app import build_services
    from app.migrate import upgrade

    services = build_services(
        {"ignore_environment": True, "env": "test", "database_url": database_url,
         "secret_key": SECRET_KEY, "sms_backend": "simulator",
         "extra": {"password_method": FAST_HASH}},
        clock=clock,
    )  # fmt: skip
    if kind == "postgresql":
        with services.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    upgrade(services.engine)
    return services


def signed_in(services):
    """A test client of the app with the bench owner signed in."""
    from app import create_app

    client = create_app(services=services).test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed = client.post("/sign-in", data={"csrf_token": token, "email": OWNER_EMAIL,
                                           "password": OWNER_PASSWORD})  # fmt: skip
    assert signed.status_code == 302, "the bench owner could not sign in"
    return client


def run(
    kind: str,
    database_url: str,
    *,
    customers: int,
    messages: int,
    long_thread: int,
    rounds: int,
    warmup: int,
) -> dict:
    say(f"pages on {kind}: filling the database")
    services = fresh_services(kind, database_url)
    ids = fill(services.engine, customers, messages, long_thread)
    client = signed_in(services)
    inbox = client.get("/inbox").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" rel="next"', inbox).group(1).replace("&amp;", "&")
    conversation = f"/conversations/{ids['long_customer_id']}"
    assert f"Customer {customers - 1:06d}" in inbox, "the newest conversation is not first"
    pages = {
        "inbox": "/inbox",
        "conversation": conversation,
        "inbox_page_2": older,
        "inbox_needs_reply": "/inbox?filter=needs_reply",
        "inbox_search_name": "/inbox?q=customer+04242",
        "inbox_search_phone": "/inbox?q=0004242",
        "conversation_older": None,
        "customers": "/customers/",
    }
    thread = client.get(conversation).get_data(as_text=True)
    earlier = re.search(r'href="([^"]+before=\d+)"', thread)
    pages["conversation_older"] = earlier.group(1).replace("&amp;", "&") if earlier else None
    results = {}
    for name, path in pages.items():
        if path:
            results[name] = measure(client, path, rounds, warmup)
    # What every open inbox costs every few seconds when nothing changed: a 304.
    etag = client.get("/inbox", headers={"X-Requested-With": "fetch"}).headers["ETag"]
    live = {"X-Requested-With": "fetch", "If-None-Match": etag}
    results["inbox_live_poll"] = measure(client, "/inbox", rounds, warmup, headers=live, status=304)
    services.engine.dispose()
    return {
        "db": kind,
        "customers": customers,
        "messages": messages,
        "long_conversation": long_thread,
        "pages": results,
        "meets_targets": all(
            results[k]["median_ms"] < TARGET_MEDIAN_MS for k in ("inbox", "conversation")
        ),
    }


def add_arguments(group) -> None:
    group.add_argument("--pages-customers", type=int, default=100_000)
    group.add_argument("--pages-messages", type=int, default=1_000_000)
    group.add_argument("--pages-long-conversation", type=int, default=5_000)
    group.add_argument("--pages-rounds", type=int, default=60, help="requests per page")


def bench_pages(bench: Bench) -> dict:
    """One result per database kind."""
    opts = bench.opts
    results = []
    for kind in bench.kinds:
        url = opts.pg_url if kind == "postgresql" else f"sqlite:///{bench.workdir / 'pages.db'}"
        results.append(
            run(
                kind,
                url,
                customers=opts.pages_customers,
                messages=opts.pages_messages,
                long_thread=opts.pages_long_conversation,
                rounds=opts.pages_rounds,
                warmup=10,
            )
        )
    return {
        "by_db": results,
        "ok": True,  # each page's status is asserted while it is measured
        "targets_met": all(r["meets_targets"] for r in results),
        "other_load": None,
    }


def report(result: dict, bench: Bench) -> None:
    for one in result["by_db"]:
        print(
            f"  owner pages      {label(one['db']) + ':':<9} {one['customers']:,} customers, "
            f"{one['messages']:,} messages "
            f"(longest conversation {one['long_conversation']:,})  "
            f"{mark(one['meets_targets'])} (median < {TARGET_MEDIAN_MS:g} ms)"
        )
        for name, page in one["pages"].items():
            print(
                f"    {name:<20} median {page['median_ms']:6.1f} ms   p90 {page['p90_ms']:6.1f} ms"
                f"   {page['path']}"
            )


SECTION = Section(
    name="pages",
    help="server time of the owner's inbox and conversation pages on a big shop (1M texts)",
    run=bench_pages,
    report=report,
    add_arguments=add_arguments,
)
