"""The dashboard: what the care did over a range of the business's local days, its charts, and
the same figures as a CSV (both from app.care.metrics, as is the metrics API)."""

from __future__ import annotations

import csv
import io

from flask import Response, g, render_template, request

from app.care.metrics import business_metrics, dashboard_days, day_range, figure_rows
from app.contract import parse
from app.contract.commands import DayRange
from app.errors import Invalid
from app.web.context import db, now
from app.web.owner.charts import bar_chart
from app.web.owner.common import csv_cell, owner_blueprint, signed_in, zone

bp = owner_blueprint("dashboard", __name__)
PRESETS = (7, 30, 90)


def _asked():
    """The days asked for, and the error when they cannot be (then the last 30 days)."""
    today = now().astimezone(zone()).date()
    try:
        asked = parse(DayRange, request.args.to_dict())
        return asked, dashboard_days(asked, today=today), None
    except Invalid as exc:
        return DayRange(), dashboard_days(DayRange(), today=today), exc.message


def _figures():
    asked, (first, last), error = _asked()
    start, end = day_range(g.business, first, last)
    metrics = business_metrics(db(), g.business, start, end, now=now())
    return asked, metrics, error


def _label(day) -> str:
    return day.strftime("%b %d").replace(" 0", " ")


@bp.get("/dashboard")
@signed_in
def dashboard():
    asked, metrics, error = _figures()
    figures = {key: value for key, _label_text, value in figure_rows(metrics)}
    labels = [_label(point.first_day) for point in metrics.trend]
    charts = [
        bar_chart("CSAT (%)", list(zip(labels, [p.csat for p in metrics.trend], strict=True)),
                  low=0, high=100),
        bar_chart("NPS", list(zip(labels, [p.nps for p in metrics.trend], strict=True)),
                  low=-100, high=100),
        bar_chart("Customer effort (1-7)",
                  list(zip(labels, [p.ces for p in metrics.trend], strict=True)), low=1, high=7),
    ]  # fmt: skip
    preset = None if (asked.from_ or asked.to) else (asked.days or 30)
    html = render_template("owner/dashboard.html", m=metrics, figures=figures, charts=charts,
                           presets=PRESETS, preset=preset, error=error,
                           first_label=_label(metrics.first_day),
                           last_label=_label(metrics.last_day))  # fmt: skip
    return html, 422 if error else 200


@bp.get("/dashboard.csv")
@signed_in
def dashboard_csv():
    _asked_days, metrics, error = _figures()
    if error:
        return Response(error + "\n", status=422, mimetype="text/plain")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("figure", "value", "key"))
    for key, label, value in figure_rows(metrics):
        writer.writerow((csv_cell(label), value, csv_cell(key)))
    filename = f"dashboard-{metrics.first_day.isoformat()}-to-{metrics.last_day.isoformat()}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })  # fmt: skip
