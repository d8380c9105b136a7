"""The reference inbound webhook for scripts/bench: the least a correct handler must do.

A bare Flask app with one route that checks Twilio's signature and inserts one row with
SQLAlchemy Core. Served by gunicorn exactly like Regulars (`bench_reference:create_app()`).
Reads DATABASE_URL, TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL from the environment.

On SQLite it sets the same connection pragmas Regulars uses (WAL, synchronous=NORMAL,
busy timeout), so both pay the same price per commit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

metadata = sa.MetaData()
inbound = sa.Table(
    "bench_reference_inbound",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sid", sa.String(40), nullable=False, unique=True),
    sa.Column("from_number", sa.String(20), nullable=False),
    sa.Column("to_number", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def make_engine(url: str) -> sa.Engine:
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


def create_app() -> Flask:
    engine = make_engine(os.environ["DATABASE_URL"])
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    base = os.environ["PUBLIC_BASE_URL"].rstrip("/")
    app = Flask(__name__)

    @app.post("/webhooks/twilio/sms")
    def inbound_sms():
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(base + request.path, request.form, signature):
            abort(403)
        form = request.form
        with engine.begin() as conn:
            conn.execute(
                inbound.insert().values(
                    sid=form["MessageSid"],
                    from_number=form["From"],
                    to_number=form["To"],
                    body=form.get("Body", ""),
                    created_at=datetime.now(UTC),
                )
            )
        return Response(TWIML, mimetype="text/xml")

    return app
