"""Public pages: the front page, the app shell (service worker, offline page), a health check."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template
from sqlalchemy import text

from app.web.context import db

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html", simulator="simulator" in current_app.blueprints)


@bp.get("/sw.js")
def service_worker():
    """The service worker, served from the root so its scope is the whole app; revalidated on
    every load so a new version reaches phones at once."""
    worker = Path(current_app.static_folder or "", "sw.js").read_text(encoding="utf-8")
    headers = {"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"}
    return Response(worker, mimetype="text/javascript", headers=headers)


@bp.get("/offline")
def offline():
    """What the service worker shows when there is no network and no copy of the page."""
    return render_template("offline.html")


@bp.get("/healthz")
def health():
    db().exec(text("SELECT 1"))
    return jsonify({"ok": True})
