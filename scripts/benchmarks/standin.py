"""A local stand-in for Twilio's Messages API, for scripts/bench (stdlib only).

POST /2010-04-01/Accounts/{sid}/Messages.json answers 201 with a JSON body shaped like
Twilio's and a unique SM sid. It counts every POST and the Regulars message id found in the
StatusCallback URL (`?mid=N`), so the bench can check each text went out exactly once, and
when it took each text, by sending number (`From`), so the bench can measure a pace.

GET Messages.json?To=... lists the texts it took for that number (a page of Twilio's shape,
newest first, DateSent unknown as for a queued text), so a worker that never heard back about
a send reconciles as with Twilio. GET /stats returns the counts as JSON (with the first and
last moment a text was taken, unix seconds); GET /times the moments by sending number; POST
/reset clears them.

    python scripts/benchmarks/standin.py PORT
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.posts = 0
        self.bad = 0
        self.mids: Counter[int] = Counter()
        self.times: dict[str, list[float]] = {}  # From: when each of its texts was taken
        self.taken: dict[str, list[tuple[str, str, str, str]]] = {}  # To: (sid, from, body, at)

    def snapshot(self) -> dict:
        with self.lock:
            every = [t for times in self.times.values() for t in (times[0], times[-1])]
            return {
                "posts": self.posts,
                "bad": self.bad,
                "distinct_mids": len(self.mids),
                "duplicate_mids": sum(n - 1 for n in self.mids.values() if n > 1),
                "first_at": min(every, default=None),
                "last_at": max(every, default=None),
            }


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle and delayed ACKs add
    # ~40 ms to every request, and the bench would measure the stand-in, not Regulars.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._answer(200, COUNTS.snapshot())
        elif MESSAGES_PATH.match(urlsplit(self.path).path):
            self._list(MESSAGES_PATH.match(urlsplit(self.path).path).group(1))
        elif self.path == "/times":
            with COUNTS.lock:
                times = {number: list(moments) for number, moments in COUNTS.times.items()}
            self._answer(200, times)
        else:
            self._answer(404, {"code": 20404, "message": "not found", "status": 404})

    def _list(self, account: str) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        with COUNTS.lock:
            taken = list(COUNTS.taken.get(query.get("To", ""), ()))
        if "From" in query:
            taken = [t for t in taken if t[1] == query["From"]]
        if {"DateSent", "DateSent>", "DateSent<"} & set(query):
            taken = []  # a text the stand-in took is never "sent" yet: as Twilio filters
        uri = f"/2010-04-01/Accounts/{account}/Messages.json"
        messages = [_message(account, sid, query.get("To"), sender, body, at)
                    for sid, sender, body, at in reversed(taken)]  # fmt: skip
        self._answer(200, {"messages": messages, "start": 0, "end": max(len(messages) - 1, 0),
                           "page": 0, "page_size": 50, "first_page_uri": f"{uri}?Page=0",
                           "previous_page_uri": None, "next_page_uri": None,
                           "uri": f"{uri}?Page=0"})  # fmt: skip

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/reset":
            with COUNTS.lock:
                COUNTS.reset()
            self._answer(200, {"reset": True})
            return
        match = MESSAGES_PATH.match(self.path)
        if not match:
            self._answer(404, {"code": 20404, "message": "not found", "status": 404})
            return
        form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        mid_values = parse_qs(urlsplit(form.get("StatusCallback", "")).query).get("mid")
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        body = form.get("Body", "")
        with COUNTS.lock:
            COUNTS.times.setdefault(form.get("From", ""), []).append(time.time())
            COUNTS.taken.setdefault(form.get("To", ""), []).append(
                (sid, form.get("From", ""), body, now)
            )
            COUNTS.posts += 1
            if mid_values and mid_values[0].isdigit():
                COUNTS.mids[int(mid_values[0])] += 1
            else:
                COUNTS.bad += 1
        payload = _message(match.group(1), sid, form.get("To"), form.get("From"), body, now)
        payload["messaging_service_sid"] = form.get("MessagingServiceSid")
        self._answer(201, payload)


def _message(account: str, sid: str, to, sender, body: str, at: str) -> dict:
    """A Message resource as Twilio answers it, queued (not sent yet)."""
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": at,
        "date_sent": None,
        "date_updated": at,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    port = int(sys.argv[1])
    server = Server(("127.0.0.1", port), Handler)
    print(f"stand-in listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
