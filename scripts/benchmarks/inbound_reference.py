"""The reference inbound webhook for the inbound section: the least a correct handler must do.

A bare Flask app with one route that checks Twilio's signature and inserts one row with
SQLAlchemy Core. Served by gunicorn exactly like Regulars
(`benchmarks.inbound_reference:create_app()`). Reads DATABASE_URL, TWILIO_AUTH_TOKEN and
PUBLIC_BASE_URL from the environment. Its engine is `common.reference_engine`: the same
SQLite pragmas Regulars uses, so both pay the same price per commit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

from .common import reference_engine

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


def create_app(database_url=None, auth_token=None, public_base_url=None) -> Flask:
    """The reference app; gunicorn calls it bare (from the environment), the profile with values."""
    engine = reference_engine(database_url or os.environ["DATABASE_URL"])
    validator = RequestValidator(auth_token or os.environ["TWILIO_AUTH_TOKEN"])
    base = (public_base_url or os.environ["PUBLIC_BASE_URL"]).rstrip("/")
    app = Flask(__name__)
    app.extensions["bench_engine"] = engine  # for whoever builds it in-process to dispose

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
