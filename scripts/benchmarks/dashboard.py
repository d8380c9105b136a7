"""Server time of the dashboard and of the inbox's search by name on a big shop: 100,000
customers and 1,000,000 texts over a year (visits, their follow-ups, replies, the owner's
answers, ratings, review links), on SQLite and PostgreSQL.

Run by scripts/bench (`scripts/bench dashboard`). The year is made in memory, in time order,
and written with bulk inserts (COPY on PostgreSQL); then each page is requested in-process
through the WSGI app (the server's own time) by a signed-in owner, after a warm-up: the
steady state, where the days that are over are kept (app.care.figures) and only the open
ones are counted. The first view of a quarter, with nothing kept, is timed once as well.
Targets (issue 10): the dashboard under 200 ms at the median on PostgreSQL, the search by
name under 50 ms at the median on both databases.
"""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .common import Bench, Section, label, mark, say
from .pages import (
    FAST_HASH,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    _insert,
    fresh_services,
    measure,
    signed_in,
)

DASHBOARD_TARGET_MS = 200.0  # median, PostgreSQL
SEARCH_TARGET_MS = 50.0  # median, both
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = words(
    "Maria James Priya Sam Ana Leo Grace Omar Chen Fatima Lucas Mia Noah Ava Ethan Zoe Liam "
    "Emma Mateo Sofia Aiden Chloe Ravi Hana Diego Nora Yusuf Ines Kofi Lena Marco Julia Ivan "
    "Rosa Tomas Elena Kai Aria Felix Maya"
)
LAST_NAMES = words(
    "Lopez Carter Patel Rivera Kim Nguyen Smith Johnson Garcia Brown Kowalski Okafor Rossi "
    "Muller Silva Tanaka Cohen Dubois Novak Haddad Jensen Costa Moreau Ivanova Fischer Alvarez "
    "Schmidt Santos Romero Khan Murphy Walsh Ortega Lindqvist Baker Hughes Mendes Varga Petrov "
    "Sato Duarte Keller Byrne Fontaine Horvat Aziz Berg Castillo Dalton Ekwueme"
)
RARE = ("Zebediah Quist", 4242)  # one customer with a name nobody else has
STAFF = ("Ana", "Leo", "Grace", "Omar", "Priya", "Sam")
FAILURES = (30007, 30003, 30005, 21610, 30006)
WORDS = words("thanks see you friday color cut booked great can move my appointment week")


def _status(rng: random.Random) -> tuple[str, int | None]:
    roll = rng.random()
    if roll < 0.90:
        return "delivered", None
    if roll < 0.95:
        return "sent", None
    if roll < 0.98:
        return "undelivered", rng.choice(FAILURES)
    return "failed", rng.choice(FAILURES)


def plan_year(customers: int, messages: int, seed: int = 11):
    """The year's events in memory: visits, texts (time order), ratings, review links."""
    rng = random.Random(seed)
    start = (NOW - YEAR).timestamp()
    span = YEAR.total_seconds()
    texts: list[tuple] = []  # (at, customer, direction, kind, status, code)
    visits: list[tuple] = []  # (at, customer, staff, status)
    ratings: list[tuple] = []  # (at, customer, score, scale, staff)
    links: list[tuple] = []  # (at, customer, opened)
    now = NOW.timestamp()
    while len(texts) < messages:
        customer = rng.randrange(customers)
        at = start + rng.random() * span
        staff = rng.choice(STAFF)
        visits.append((at, customer, staff, "canceled" if rng.random() < 0.02 else "completed"))
        follow_ups = [(at + 1800, "thank_you"), (at + 86400, "review_request")]
        if rng.random() < 0.4:
            follow_ups.append((at + 4 * 86400, "review_reminder"))
        if rng.random() < 0.15:
            follow_ups.append((at + 7 * 86400, "referral_ask"))
        for when, kind in follow_ups:
            if when < now:
                texts.append((when, customer, "outbound", kind, *_status(rng)))
                if kind == "review_request":
                    links.append((when, customer, rng.random() < 0.35))
        if rng.random() < 0.6:
            reply_at = at + 86400 + rng.random() * 6 * 3600
            if reply_at < now:
                texts.append((reply_at, customer, "inbound", "manual", "received", None))
                if rng.random() < 0.4:
                    texts.append((reply_at + 600, customer, "inbound", "manual", "received", None))
                roll = rng.random()
                if roll < 0.5:
                    scale = 5 if roll < 0.4 else (10 if roll < 0.45 else 7)
                    score = rng.choice({5: (1, 2, 3, 4, 4, 5, 5, 5), 10: (3, 6, 8, 9, 10, 10),
                                        7: (2, 4, 5, 6, 7, 7)}[scale])  # fmt: skip
                    ratings.append((reply_at, customer, score, scale, staff))
                if rng.random() < 0.8:
                    answer_at = reply_at + 900 + rng.expovariate(1 / (3 * 3600))
                    if answer_at < now:
                        texts.append((answer_at, customer, "outbound", "manual", *_status(rng)))
    texts = sorted(texts[:messages])
    return texts, visits, ratings, links


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def fill(engine, customers: int, messages: int) -> dict:
    """One business with `customers` customers and `messages` texts over a year."""
    from app.care.businesses import create_business
    from app.db import unit_of_work
    from app.models import Customer, Feedback, Message, TrackedLink, Visit

    started = time.monotonic()
    texts, visits, ratings, links = plan_year(customers, messages)
    say(f"  planned {len(texts):,} texts, {len(visits):,} visits, {len(ratings):,} ratings in "
        f"{time.monotonic() - started:.1f} s")  # fmt: skip
    last_activity: dict[int, float] = {}
    for at, customer, *_rest in texts:
        last_activity[customer] = at
    with unit_of_work(engine) as session:
        business, _ = create_business(
            session, name="Bench Salon", number="+12125550100", timezone="America/New_York",
            owner_email=OWNER_EMAIL, owner_password=OWNER_PASSWORD, now=NOW - 2 * YEAR,
            password_method=FAST_HASH,
        )  # fmt: skip
        business_id = business.id
    rng = random.Random(5)
    batch = 20_000
    started = time.monotonic()
    with engine.begin() as connection:
        for first in range(0, customers, batch):
            rows = []
            for n in range(first, min(first + batch, customers)):
                rare = n == min(RARE[1], customers - 1)
                name = (RARE[0] if rare else
                        f"{FIRST_NAMES[n % len(FIRST_NAMES)]} "
                        f"{LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]}")  # fmt: skip
                active = last_activity.get(n) or (NOW.timestamp() - 86400 if rare else None)
                created = NOW - 2 * YEAR + rng.random() * 2 * YEAR
                rows.append({
                    "business_id": business_id, "phone": f"+1212{n:07d}", "name": name,
                    "tags": [], "consent": "granted", "consent_source": "import",
                    "consent_at": created, "number_status": "ok",
                    "last_activity_at": _when(active) if active else None,
                    "last_message_preview": "thanks, see you friday", "unread_count": 0,
                    "needs_reply": False, "notes": "", "created_at": created,
                })  # fmt: skip
            _insert(connection, Customer.__table__, rows)
        first_id = connection.execute(
            sa.select(sa.func.min(Customer.__table__.c.id))
            .where(Customer.__table__.c.business_id == business_id)
        ).scalar_one()  # fmt: skip
    say(f"  {customers:,} customers in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    with engine.begin() as connection:
        for first in range(0, len(texts), batch):
            rows = []
            for at, customer, direction, kind, status, code in texts[first : first + batch]:
                when = _when(at)
                outbound = direction == "outbound"
                rows.append({
                    "business_id": business_id, "customer_id": first_id + customer,
                    "direction": direction, "body": " ".join(rng.sample(WORDS, 6)), "kind": kind,
                    "status": status, "segments": 1, "encoding": "GSM-7",
                    "cause": "inbound" if not outbound else ("user" if kind == "manual" else
                                                             "visit"),
                    "attempts": 1 if outbound else 0, "error_code": code,
                    "to_number": f"+1212{customer:07d}" if outbound else None,
                    "created_at": when, "send_at": when if outbound else None,
                    "sent_at": when if outbound and status != "failed" else None,
                    "last_attempt_at": when if outbound else None,
                })  # fmt: skip
            _insert(connection, Message.__table__, rows)
        say(f"  {len(texts):,} messages in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        for table, source, make in (
            (Visit.__table__, visits, lambda r: {
                "business_id": business_id, "customer_id": first_id + r[1],
                "occurred_at": _when(r[0]), "staff": r[2], "status": r[3], "source": "api",
                "created_at": _when(r[0])}),
            (Feedback.__table__, ratings, lambda r: {
                "business_id": business_id, "customer_id": first_id + r[1], "score": r[2],
                "scale": r[3], "staff": r[4], "unhappy": r[2] <= {5: 2, 7: 3, 10: 6}[r[3]],
                "reasons": [], "topics": [], "language": "en", "created_at": _when(r[0])}),
        ):  # fmt: skip
            for first in range(0, len(source), batch):
                _insert(connection, table, [make(r) for r in source[first : first + batch]])
        for first in range(0, len(links), batch):
            rows = [{
                "token": f"bench{first + i:011d}", "business_id": business_id,
                "customer_id": first_id + customer, "kind": "review",
                "target_url": "https://g.page/r/bench/review",
                "opened_at": _when(at + 3600) if opened else None,
                "open_count": 1 if opened else 0, "created_at": _when(at),
            } for i, (at, customer, opened) in enumerate(links[first : first + batch])]  # fmt: skip
            _insert(connection, TrackedLink.__table__, rows)
    say(f"  visits, ratings and links in {time.monotonic() - started:.1f} s")
    # A database in service has been vacuumed (autovacuum): its visibility map lets the
    # range queries read the indexes alone.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        postgres = connection.dialect.name == "postgresql"
        connection.execute(sa.text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    if not postgres:  # the seed's write-ahead log folded into the file, as in service
        raw = engine.raw_connection()  # outside any transaction: the driver's autocommit
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return {"business_id": business_id, "visits": len(visits), "ratings": len(ratings),
            "texts": len(texts)}  # fmt: skip


def run(kind: str, database_url: str, *, customers: int, messages: int, rounds: int) -> dict:
    from app.clock import FixedClock

    say(f"dashboard on {kind}: filling the database")
    services = fresh_services(kind, database_url, clock=FixedClock(NOW))
    engine = services.engine
    began = time.monotonic()
    seeded = fill(engine, customers, messages)
    seed_seconds = round(time.monotonic() - began, 1)
    client = signed_in(services)
    found = client.get("/inbox?q=quis").get_data(as_text=True)
    assert RARE[0] in found, "the search by part of a name found nothing"
    month = client.get("/dashboard.csv?days=30").get_data(as_text=True)
    sent = int(re.search(r"^Texts sent,(\d+),", month, re.M).group(1))
    assert sent > 0, "the dashboard counted no texts"
    paths = {
        "dashboard_30_days": "/dashboard?days=30",
        "dashboard_90_days": "/dashboard?days=90",
        "search_name_common": "/inbox?q=kowal",
        "search_name_rare": "/inbox?q=quis",
        "search_customers": "/customers/?q=ortega",
    }
    # The first view of a quarter with no day kept yet (each day is then kept once over).
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM daily_figures"))
    started = time.perf_counter()
    assert client.get("/dashboard?days=90").status_code == 200
    first_view_ms = round((time.perf_counter() - started) * 1000, 1)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM daily_figures"))
    results = {name: measure(client, path, rounds, warmup=3) for name, path in paths.items()}
    engine.dispose()
    dashboard = max(results[k]["median_ms"] for k in ("dashboard_30_days", "dashboard_90_days"))
    search = max(results[k]["median_ms"] for k in results if k.startswith("search"))
    return {
        "db": kind, "customers": customers, "seeded": seeded, "seed_seconds": seed_seconds,
        "texts_sent_last_30_days": sent, "pages": results,
        "dashboard_90_days_first_view_ms": first_view_ms,
        "meets_targets": search < SEARCH_TARGET_MS
        and (kind != "postgresql" or dashboard < DASHBOARD_TARGET_MS),
    }  # fmt: skip


def add_arguments(group) -> None:
    group.add_argument("--dashboard-customers", type=int, default=100_000)
    group.add_argument("--dashboard-messages", type=int, default=1_000_000)
    group.add_argument("--dashboard-rounds", type=int, default=20, help="requests per page")


def bench_dashboard(bench: Bench) -> dict:
    opts = bench.opts
    results = []
    for kind in bench.kinds:
        url = opts.pg_url if kind == "postgresql" else f"sqlite:///{bench.workdir / 'dash.db'}"
        results.append(run(kind, url, customers=opts.dashboard_customers,
                           messages=opts.dashboard_messages,
                           rounds=opts.dashboard_rounds))  # fmt: skip
    return {"by_db": results, "ok": True, "other_load": None,
            "targets_met": all(r["meets_targets"] for r in results)}  # fmt: skip


def report(result: dict, bench: Bench) -> None:
    for one in result["by_db"]:
        seeded = one["seeded"]
        print(
            f"  dashboard        {label(one['db']) + ':':<9} {one['customers']:,} customers, "
            f"{seeded['texts']:,} texts over a year, {seeded['visits']:,} visits "
            f"(seeded in {one['seed_seconds']:g} s)  {mark(one['meets_targets'])} "
            f"(dashboard median < {DASHBOARD_TARGET_MS:g} ms on postgres, search < "
            f"{SEARCH_TARGET_MS:g} ms)"
        )
        for name, page in one["pages"].items():
            print(f"    {name:<20} median {page['median_ms']:6.1f} ms   "
                  f"p95 {page['p95_ms']:6.1f} ms   {page['path']}")  # fmt: skip
        print(
            f"    first view of 90 days, no day kept yet: "
            f"{one['dashboard_90_days_first_view_ms']:.0f} ms (once; each day is then kept)"
        )


SECTION = Section(
    name="dashboard",
    help="server time of the dashboard (30 and 90 days) and the search by name (1M texts)",
    run=bench_dashboard,
    report=report,
    add_arguments=add_arguments,
)
