"""Server time of the Overdue list, and what the customers' facts cost the inbox, on a big
shop: 100,000 customers and 1,000,000 visits over two years, each customer on a rhythm of
their own (some booked ahead), on SQLite and PostgreSQL.

Run by scripts/bench (`scripts/bench regulars`). Each customer's facts are counted from their
visits with the app's own rule (app.care.facts.facts_of) as the seed writes them, as
app.care.visits keeps them. Then, through the WSGI app and signed in as the owner:

- the Overdue list (/overdue, its first page and one deep in) and `GET /api/v1/customers?
  overdue=true`; target: the list under 50 ms at the median;
- the inbox with the facts on each line against the inbox before them (the same page whose
  rows read only the columns it read before: no facts line, no badges), requested in turn
  (A B B A ...); target: no more than 10% over;
- the planning run of the moments (app.care.moments: milestone heads-ups, anniversaries and
  birthdays, both turned on, every customer with a birthday), once for the day and once
  again (nothing left to do); target: under 60 s.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .common import Bench, Section, abba, label, mark, percentile, say
from .pages import (
    FAST_HASH,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    _insert,
    fresh_services,
    measure,
    signed_in,
)

OVERDUE_TARGET_MS = 50.0  # median, both databases
INBOX_RATIO_TARGET = 1.10  # the inbox with facts over the inbox without
PLANNING_TARGET_SECONDS = 60.0
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
STAFF = ("Ana", "Leo", "Grace", "Omar", "Priya", "Sam")
# The inbox's columns before the facts: the first ten of app.care.inbox.INBOX_COLUMNS.
COLUMNS_BEFORE = 10


def plan(customers: int, visits: int, seed: int = 12):
    """Per customer: their visits (time, staff, cents) oldest first, on a rhythm of their
    own, and whether a visit is booked ahead."""
    rng = random.Random(seed)
    per_customer = visits / customers
    now, start = NOW.timestamp(), (NOW - SPAN).timestamp()
    plans = []
    for _ in range(customers):
        count = min(60, 1 + int(rng.expovariate(1 / max(per_customer - 0.5, 0.1))))
        gap = rng.choice((7, 14, 21, 28, 35, 42, 56, 90)) * 86400
        last = now - rng.random() * min(SPAN.total_seconds(), gap * 4)
        # A history longer than the two years begins somewhere in its first gap after their
        # start, not all on one day (which would put a year of anniversaries on one day).
        times = sorted(
            at if at >= start else start + rng.random() * gap
            for at in (last - i * gap * rng.uniform(0.8, 1.2) for i in range(count))
        )
        favourite = rng.choice(STAFF)
        rows = [(datetime.fromtimestamp(at, UTC),
                 favourite if rng.random() < 0.7 else rng.choice(STAFF),
                 rng.choice((None, 3500, 4500, 6000))) for at in times]  # fmt: skip
        booked = rng.random() < 0.1
        plans.append((rows, booked))
    return plans


def fill(engine, customers: int, visits: int) -> dict:
    from app.care.businesses import create_business
    from app.care.facts import facts_of, heads_up_from, overdue_from
    from app.db import unit_of_work
    from app.models import Business, Customer, Visit

    started = time.monotonic()
    plans = plan(customers, visits)
    say(f"  planned {sum(len(p[0]) for p in plans):,} visits in "
        f"{time.monotonic() - started:.1f} s")  # fmt: skip
    with unit_of_work(engine) as session:
        business, _ = create_business(
            session, name="Bench Salon", number="+12125550100", timezone="America/New_York",
            owner_email=OWNER_EMAIL, owner_password=OWNER_PASSWORD, now=NOW - 2 * SPAN,
            password_method=FAST_HASH,
        )  # fmt: skip
        business_id = business.id
    settings = Business(name="defaults")  # a new business's overdue settings
    rng = random.Random(6)
    days = random.Random(7)  # birthdays (apart, so the visits stay as they were)
    batch = 20_000
    overdue = 0
    started = time.monotonic()
    with engine.begin() as connection:
        for first in range(0, customers, batch):
            rows = []
            for n in range(first, min(first + batch, customers)):
                theirs, booked = plans[n]
                booked_at = NOW + timedelta(days=rng.randint(1, 30)) if booked else None
                plans[n] = (theirs, booked_at)
                facts = facts_of(theirs, [booked_at] if booked_at else [])
                overdue_at = overdue_from(settings, facts)
                overdue += bool(overdue_at and overdue_at <= NOW and not booked)
                last = facts.last_visit_at
                rows.append({
                    "business_id": business_id, "phone": f"+1212{n:07d}",
                    "name": f"Customer {n}", "tags": [], "consent": "granted",
                    "consent_source": "import", "consent_at": NOW - 2 * SPAN,
                    "number_status": "ok", "last_activity_at": last + timedelta(minutes=30),
                    "last_message_preview": "thanks, see you friday", "unread_count": 0,
                    "needs_reply": False, "notes": "", "created_at": NOW - 2 * SPAN,
                    **facts.__dict__, "overdue_at": overdue_at,
                    "birthday": f"{days.randint(1, 12):02d}-{days.randint(1, 28):02d}",
                    "milestone_heads_up_at": heads_up_from(settings, facts, None),
                })  # fmt: skip
            _insert(connection, Customer.__table__, rows)
        first_id = connection.execute(
            sa.select(sa.func.min(Customer.__table__.c.id))
            .where(Customer.__table__.c.business_id == business_id)
        ).scalar_one()  # fmt: skip
        say(f"  {customers:,} customers in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        rows, written = [], 0
        for n, (theirs, booked_at) in enumerate(plans):
            ahead = [(booked_at, None, None, "booked")] if booked_at else []
            for at, staff, cents, status in [*(v + ("completed",) for v in theirs), *ahead]:
                rows.append({"business_id": business_id, "customer_id": first_id + n,
                             "occurred_at": at, "staff": staff, "amount_cents": cents,
                             "status": status, "source": "api", "created_at": NOW})  # fmt: skip
            if len(rows) >= batch:
                _insert(connection, Visit.__table__, rows)
                written, rows = written + len(rows), []
        if rows:
            _insert(connection, Visit.__table__, rows)
            written += len(rows)
        say(f"  {written:,} visits in {time.monotonic() - started:.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        postgres = connection.dialect.name == "postgresql"
        connection.execute(sa.text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    return {"business_id": business_id, "visits": written, "overdue": overdue}


def _inbox_ratio(client, rounds: int) -> dict:
    """The inbox with the facts against the inbox reading only its columns of before."""
    from app.care import inbox as care_inbox

    full = care_inbox.INBOX_COLUMNS
    before = full[:COLUMNS_BEFORE]
    times: dict[str, list[float]] = {"with_facts": [], "before_facts": []}
    shown = {}
    try:
        for target in ("with_facts", "before_facts"):  # warm-up, and what each one shows
            care_inbox.INBOX_COLUMNS = full if target == "with_facts" else before
            for _ in range(3):
                page = client.get("/inbox").get_data(as_text=True)
            shown[target] = "facts-line" in page
        for _round, target in abba(rounds, "with_facts", "before_facts"):
            care_inbox.INBOX_COLUMNS = full if target == "with_facts" else before
            began = time.perf_counter()
            response = client.get("/inbox")
            response.get_data()
            times[target].append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
    finally:
        care_inbox.INBOX_COLUMNS = full
    assert shown == {"with_facts": True, "before_facts": False}, shown
    result = {}
    for target, values in times.items():
        values.sort()
        result[target] = {"median_ms": round(statistics.median(values), 2),
                          "p95_ms": round(percentile(values, 0.95), 2)}  # fmt: skip
    result["ratio"] = round(result["with_facts"]["median_ms"]
                            / result["before_facts"]["median_ms"], 3)  # fmt: skip
    return result


def run(kind: str, database_url: str, *, customers: int, visits: int, rounds: int) -> dict:
    from app.care.businesses import issue_api_key
    from app.clock import FixedClock
    from app.db import unit_of_work
    from app.models import Business

    say(f"regulars on {kind}: filling the database")
    services = fresh_services(kind, database_url, clock=FixedClock(NOW))
    engine = services.engine
    began = time.monotonic()
    seeded = fill(engine, customers, visits)
    seed_seconds = round(time.monotonic() - began, 1)
    with unit_of_work(engine) as session:
        business = session.get(Business, seeded["business_id"])
        assert business is not None
        key = issue_api_key(session, business, label="bench")
    client = signed_in(services)
    listed = client.get("/overdue").get_data(as_text=True)
    assert listed.count('class="suggested"') == 25, "the Overdue list is not full"
    deep = "/overdue"
    for _ in range(20):  # twenty pages in
        cursor = re.search(r'href="/overdue\?after=([0-9.]+)"', listed)
        assert cursor, "the Overdue list has no next page"
        deep = f"/overdue?after={cursor.group(1)}"
        listed = client.get(deep).get_data(as_text=True)
    api = {"Authorization": f"Bearer {key}"}
    paths = {"overdue_first_page": "/overdue", "overdue_page_21": deep}
    results = {name: measure(client, path, rounds, warmup=3) for name, path in paths.items()}
    results["api_overdue"] = measure(client, "/api/v1/customers?overdue=true&limit=50", rounds,
                                     warmup=3, headers=api)  # fmt: skip
    results["api_by_last_visit"] = measure(client, "/api/v1/customers?sort=-last_visit&limit=50",
                                           rounds, warmup=3, headers=api)  # fmt: skip
    inbox = _inbox_ratio(client, rounds)
    planning = _planning(engine, seeded["business_id"])
    engine.dispose()
    overdue_ms = max(results[k]["median_ms"] for k in ("overdue_first_page", "overdue_page_21"))
    return {
        "db": kind, "customers": customers, "seeded": seeded, "seed_seconds": seed_seconds,
        "pages": results, "inbox": inbox, "planning": planning,
        "meets_targets": overdue_ms < OVERDUE_TARGET_MS and inbox["ratio"] <= INBOX_RATIO_TARGET
        and planning["seconds"] < PLANNING_TARGET_SECONDS,
    }  # fmt: skip


def _planning(engine, business_id: int) -> dict:
    """The moments' planning run for the day, with anniversaries and birthdays on, timed as
    the worker runs it (one transaction), then once more (everything is claimed)."""
    from app.care.moments import plan_moments
    from app.db import unit_of_work
    from app.models import Business

    with unit_of_work(engine) as session:
        business = session.get(Business, business_id)
        assert business is not None
        business.anniversary_texts = business.birthday_texts = True
        session.add(business)
    runs = []
    for _ in range(2):
        began = time.monotonic()
        with unit_of_work(engine) as session:
            planned = plan_moments(session, now=NOW)
        runs.append((round(time.monotonic() - began, 2), planned.__dict__))
    (seconds, first), (again, second) = runs
    assert not any(second.values()), f"the second run planned again: {second}"
    return {"seconds": seconds, "planned": first, "again_seconds": again}


def add_arguments(group) -> None:
    group.add_argument("--regulars-customers", type=int, default=100_000)
    group.add_argument("--regulars-visits", type=int, default=1_000_000)
    group.add_argument("--regulars-rounds", type=int, default=30, help="requests per page")


def bench_regulars(bench: Bench) -> dict:
    opts = bench.opts
    results = []
    for kind in bench.kinds:
        url = opts.pg_url if kind == "postgresql" else f"sqlite:///{bench.workdir / 'regulars.db'}"
        results.append(run(kind, url, customers=opts.regulars_customers,
                           visits=opts.regulars_visits, rounds=opts.regulars_rounds))  # fmt: skip
    return {"by_db": results, "ok": True, "other_load": None,
            "targets_met": all(r["meets_targets"] for r in results)}  # fmt: skip


def report(result: dict, bench: Bench) -> None:
    for one in result["by_db"]:
        seeded = one["seeded"]
        inbox = one["inbox"]
        print(
            f"  regulars         {label(one['db']) + ':':<9} {one['customers']:,} customers, "
            f"{seeded['visits']:,} visits, {seeded['overdue']:,} overdue "
            f"(seeded in {one['seed_seconds']:g} s)  {mark(one['meets_targets'])} "
            f"(Overdue list median < {OVERDUE_TARGET_MS:g} ms, inbox with facts <= "
            f"{INBOX_RATIO_TARGET:g}x)"
        )
        for name, page in one["pages"].items():
            print(f"    {name:<20} median {page['median_ms']:6.1f} ms   "
                  f"p95 {page['p95_ms']:6.1f} ms   {page['path']}")  # fmt: skip
        planning = one["planning"]
        print(f"    planning run         {planning['seconds']:6.2f} s   again "
              f"{planning['again_seconds']:.2f} s   {planning['planned']}")  # fmt: skip
        print(f"    inbox with facts     median {inbox['with_facts']['median_ms']:6.1f} ms   "
              f"before {inbox['before_facts']['median_ms']:6.1f} ms   "
              f"ratio {inbox['ratio']:.3f}")  # fmt: skip


SECTION = Section(
    name="regulars",
    help="server time of the Overdue list and the inbox with customers' facts (1M visits)",
    run=bench_regulars,
    report=report,
    add_arguments=add_arguments,
)
