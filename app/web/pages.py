"""Public pages: the front page and a health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from app.web.context import db

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html", simulator="simulator" in current_app.blueprints)


@bp.get("/healthz")
def health():
    db().exec(text("SELECT 1"))
    return jsonify({"ok": True})
