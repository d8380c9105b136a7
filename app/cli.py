"""The `regulars` command."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from app.config import ConfigError

_ENGINES: list = []


def _services():
    """The wired services for one command; their engine is disposed when the command ends."""
    from app import build_services

    services = build_services()
    _ENGINES.append(services.engine)
    return services


def cmd_db_upgrade(args) -> int:
    from app.migrate import upgrade

    services = _services()
    upgrade(services.engine)
    print("database is at the latest migration", file=sys.stderr)
    return 0


def cmd_business_create(args) -> int:
    from app.care.businesses import create_business
    from app.db import unit_of_work
    from app.errors import Invalid, Refused

    services = _services()
    with unit_of_work(services.engine) as session:
        try:
            business, key = create_business(
                session,
                name=args.name,
                number=args.number,
                timezone=args.timezone,
                owner_email=args.owner_email,
                owner_password=args.owner_password,
                review_url=args.review_url,
                messaging_service_sid=args.messaging_service_sid,
                alert_phone=args.alert_phone,
                now=services.clock.now(),
                senders=services.senders,
            )
        except (Invalid, Refused) as exc:
            session.rollback()
            print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
            return 2
    print(json.dumps({"business_id": business.id, "api_key": key}))
    if not business.alert_phone:
        print("note: no alert phone, so the owner hears of no unhappy or waiting customer by "
              "text: add one with --alert-phone, or in Settings", file=sys.stderr)  # fmt: skip
    return 0


def cmd_business_update(args) -> int:
    """The operator's door to a business's sending number (owners may not, in a host)."""
    from app.care.businesses import change_business
    from app.contract import parse
    from app.contract.commands import BusinessChanges
    from app.contract.views import BusinessPublic
    from app.db import unit_of_work
    from app.errors import Invalid, Refused
    from app.models import Business

    services = _services()
    fields = {"number": args.number, "messaging_service_sid": args.messaging_service_sid,
              "name": args.name, "timezone": args.timezone, "review_url": args.review_url,
              "alert_phone": args.alert_phone}  # fmt: skip
    given = {name: value for name, value in fields.items() if value is not None}
    with unit_of_work(services.engine) as session:
        business = session.get(Business, args.business)
        if business is None:
            print(f"error: no business {args.business}", file=sys.stderr)
            return 2
        try:
            change_business(session, business, parse(BusinessChanges, given),
                            senders=services.senders, may_change_sender=True)  # fmt: skip
        except (Invalid, Refused) as exc:
            session.rollback()
            print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
            return 2
        print(BusinessPublic.of(business).model_dump_json())
    return 0


def cmd_worker(args) -> int:
    from app.care.dispatcher import Dispatcher

    services = _services()
    dispatcher = Dispatcher(services.engine, services.gateway, services.settings,
                            clock=services.clock)  # fmt: skip
    if args.once:
        stats = dispatcher.run_once()
        dispatcher.close()
        print(json.dumps({"claimed": stats.claimed, "sent": stats.sent, "failed": stats.failed,
                          "retried": stats.retried, "canceled": stats.canceled,
                          "rescheduled": stats.rescheduled}))  # fmt: skip
        return 0
    stop = threading.Event()

    def _stop(signum, _frame):
        logging.getLogger("regulars").info("signal %s: finishing the batch in flight", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.run_forever(stop)
    return 0


def cmd_serve(args) -> int:
    """The development server, with the dispatcher in a thread so texts go without a worker."""
    from app import create_app
    from app.care.dispatcher import Dispatcher
    from app.migrate import upgrade

    services = _services()
    upgrade(services.engine)
    app = create_app(services=services)
    stop = threading.Event()
    if services.settings.embedded_worker or args.with_worker:
        dispatcher = Dispatcher(services.engine, services.gateway, services.settings,
                                clock=services.clock)  # fmt: skip
        threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True,
                         name="dispatcher").start()  # fmt: skip
    try:
        app.run(host=args.host, port=args.port, debug=False, threaded=True, use_reloader=False)
    finally:
        stop.set()
    return 0


def cmd_demo(args) -> int:
    from app.care.demo import load_demo
    from app.db import unit_of_work

    services = _services()
    with unit_of_work(services.engine) as session:
        summary = load_demo(session, now=services.clock.now())
    print(json.dumps(summary))
    return 0


def _run_import(args, importer, summary) -> int:
    """Run one all-or-nothing CSV import for a business; per-row errors go to stderr."""
    from app.db import session_scope
    from app.errors import Invalid
    from app.models import Business

    services = _services()
    with session_scope(services.engine) as session:
        business = session.get(Business, args.business)
        if business is None:
            print(f"error: no business {args.business}", file=sys.stderr)
            return 2
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            try:
                result = importer(session, business, handle, services)
            except Invalid as exc:  # the database refused a row: nothing is kept
                session.rollback()
                print(f"{exc.message}\nnothing imported", file=sys.stderr)
                return 1
        if not result.errors:
            session.commit()
    if result.errors:
        for error in result.errors:
            print(f"row {error.row}: {error.message}", file=sys.stderr)
        print(f"nothing imported: {len(result.errors)} row(s) need fixing", file=sys.stderr)
        return 1
    print(json.dumps(summary(result)))
    return 0


def cmd_import_customers(args) -> int:
    from app.care.imports import import_customers_csv

    return _run_import(
        args,
        lambda session, business, handle, services: import_customers_csv(
            session, business, handle, now=services.clock.now()
        ),
        lambda result: {"created": result.created, "updated": result.updated},
    )


def cmd_import_visits(args) -> int:
    from app.care.imports import import_visits_csv

    return _run_import(
        args,
        lambda session, business, handle, services: import_visits_csv(
            session,
            business,
            handle,
            now=services.clock.now(),
            base_url=services.settings.public_base_url,
        ),  # fmt: skip
        lambda result: {"visits": result.created},
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regulars", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply migrations to DATABASE_URL").set_defaults(
        func=cmd_db_upgrade
    )

    business = sub.add_parser("business", help="businesses").add_subparsers(
        dest="business_command", required=True
    )
    create = business.add_parser("create", help="create a business and its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--number", help="the sending number, E.164")
    create.add_argument("--messaging-service-sid")
    create.add_argument("--timezone", required=True, help="e.g. America/Chicago")
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", required=True)
    create.add_argument("--review-url")
    create.add_argument("--alert-phone", help="the owner's own mobile: alerts about unhappy "
                        "or waiting customers go there")  # fmt: skip
    create.set_defaults(func=cmd_business_create)
    update = business.add_parser("update", help="change a business (the operator's door)")
    update.add_argument("--business", type=int, required=True)
    update.add_argument("--number", help="the sending number; '' to send only through a service")
    update.add_argument("--messaging-service-sid")
    update.add_argument("--name")
    update.add_argument("--timezone")
    update.add_argument("--review-url")
    update.add_argument("--alert-phone")
    update.set_defaults(func=cmd_business_update)

    worker = sub.add_parser("worker", help="run the dispatcher")
    worker.add_argument("--once", action="store_true", help="send what is due now, then exit")
    worker.set_defaults(func=cmd_worker)

    serve = sub.add_parser("serve", help="development server (use gunicorn in production)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--with-worker", action="store_true", help="run the dispatcher in-process")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("demo", help="load a demo business").set_defaults(func=cmd_demo)

    imp = sub.add_parser("import-customers", help="import customers from CSV")
    imp.add_argument("file")
    imp.add_argument("--business", type=int, required=True)
    imp.set_defaults(func=cmd_import_customers)

    visits = sub.add_parser("import-visits", help="record visits from a point-of-sale CSV")
    visits.add_argument("file", help="columns: phone, name, consent, occurred_at, staff, amount")
    visits.add_argument("--business", type=int, required=True)
    visits.set_defaults(func=cmd_import_visits)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Twilio's client logs every request at INFO: eleven lines a text, 10% of a worker's CPU.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        while _ENGINES:
            _ENGINES.pop().dispose()


if __name__ == "__main__":
    sys.exit(main())
