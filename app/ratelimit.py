"""Request limits shared by every web process, with the `limits` library (the engine under
Flask-Limiter), counting in the database (the default: nothing else to run) or in Redis
(`RATE_LIMIT_STORAGE=redis://...`).

Limits are checked per blueprint (the API per key, public pages per address) rather than by
an app-wide hook, so Twilio's webhooks, the hot path, pay nothing for them. The database
storage keeps one fixed-window counter per key in `rate_counter`, moved with a single upsert,
so two processes (or two threads) never lose a count.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from app.db import changed
from app.models import RateCounter, table_of

PRUNE_ONE_IN = 500  # now and then, expired counters are deleted on the way
SCHEME = "regulars-db"


class DatabaseStorage(Storage):
    """A `limits` storage over the app's own database (fixed windows only)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        engine = options.get("engine")
        if not isinstance(engine, Engine):
            raise ValueError("the database rate-limit storage needs the app's engine")
        self.engine = engine
        self.table = table_of(RateCounter)
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = self.table
        fresh = table.c.expires_at <= now
        statement = self._insert(table).values(key=key[:200], count=amount,
                                               expires_at=now + expiry)  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((fresh, amount), else_=table.c.count + amount),
                "expires_at": case((fresh, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.count)
        with self.engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            if random.randrange(PRUNE_ONE_IN) == 0:
                connection.execute(delete(table).where(table.c.expires_at < now - 3600))
        return count

    def _row(self, key: str):
        with self.engine.connect() as connection:
            return connection.execute(
                select(self.table.c.count, self.table.c.expires_at).where(
                    self.table.c.key == key[:200]
                )
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return changed(connection.execute(delete(self.table)))

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(self.table).where(self.table.c.key == key[:200]))


class RequestLimits:
    """Fixed-window limits on blueprints, counted in one shared storage."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.window = FixedWindowRateLimiter(storage)

    def install(self, app: Flask, limits: dict[str, tuple[str, Callable[[], str]]]) -> None:
        """Every request to a blueprint named in `limits` counts against its limit for its
        `key()`; over it, 429 with Retry-After (the blueprint's own error handler shapes the
        answer). Requests to any other blueprint cost one dictionary lookup."""
        rules = {name: (parse_many(limit), key) for name, (limit, key) in limits.items()}

        def check() -> None:
            rule = rules.get(request.blueprint or "")
            if rule is None:
                return
            items, key = rule
            who = key()
            for item in items:
                if not self.window.hit(item, request.blueprint or "", who):
                    raise _too_many(self.window, item, request.blueprint or "", who)

        app.before_request(check)

    def hit(self, limit: str, scope: str, who: str) -> None:
        """Count one more for `who` against `limit` in `scope`; over it, 429 (a view's own,
        tighter limit, such as sign-ups on a public form)."""
        for item in parse_many(limit):
            if not self.window.hit(item, scope, who):
                raise _too_many(self.window, item, scope, who)


def _too_many(window: FixedWindowRateLimiter, item: RateLimitItem, *keys: str) -> TooManyRequests:
    reset = window.get_window_stats(item, *keys).reset_time
    wait = max(1, int(reset - time.time()) + 1)
    return TooManyRequests(f"Too many requests: at most {item}. Wait a moment and try again.",
                           retry_after=wait)  # fmt: skip
