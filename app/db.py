"""The engine, and a session for one request or one job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine


def make_engine(database_url: str, **kwargs) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite, a pool on PostgreSQL."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    if database_url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        if ":memory:" in database_url or database_url in {"sqlite://", "sqlite:///"}:
            raise ValueError("use a SQLite file: the web app and the worker share it")
        engine = create_engine(database_url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Autocommit off in the driver; SQLAlchemy issues BEGIN itself (see "begin" below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking;
            # a read-only connection begins deferred and, in WAL mode, never waits for a writer.
            read_only = conn.get_execution_options().get("read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(database_url, **kwargs)


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection for a quick read that must not queue behind writers (on SQLite it takes
    no write lock); rolled back when done."""
    with engine.connect().execution_options(read_only=True) as connection:
        yield connection


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


Row = TypeVar("Row")


def add_unless_taken(session: Session, row: Row, existing: Callable[[], Row | None]):
    """Insert `row`, or, when a unique index says another request inserted the same a moment
    ago, find that one with `existing`. Returns (the row, whether it is the new one)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found, False
    return row, True


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that is rolled back unless the body commits it."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One job's transaction: committed when the body finishes, rolled back if it raises."""
    with session_scope(engine) as session:
        yield session
        session.commit()


def changed(result: Result) -> int:
    """How many rows an UPDATE or DELETE changed (its result is a cursor's)."""
    return cast(CursorResult, result).rowcount
