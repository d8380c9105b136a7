"""A local stand-in for Twilio's Messages API, for scripts/bench (stdlib only).

POST /2010-04-01/Accounts/{sid}/Messages.json answers 201 with a JSON body shaped like
Twilio's and a unique SM sid. It counts every POST and the Regulars message id found in the
StatusCallback URL (`?mid=N`), so the bench can check each text went out exactly once, and
when it took each text, by sending number (`From`), so the bench can measure a pace.

GET /stats returns the counts as JSON (with the first and last moment a text was taken, unix
seconds); GET /times the moments by sending number; POST /reset clears them.

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
        elif self.path == "/times":
            with COUNTS.lock:
                times = {number: list(moments) for number, moments in COUNTS.times.items()}
            self._answer(200, times)
        else:
            self._answer(404, {"code": 20404, "message": "not found", "status": 404})

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
        with COUNTS.lock:
            COUNTS.times.setdefault(form.get("From", ""), []).append(time.time())
            COUNTS.posts += 1
            if mid_values and mid_values[0].isdigit():
                COUNTS.mids[int(mid_values[0])] += 1
            else:
                COUNTS.bad += 1
        sid = "SM" + uuid.uuid4().hex
        account = match.group(1)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        body = form.get("Body", "")
        self._answer(
            201,
            {
                "account_sid": account,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"
                },
                "to": form.get("To"),
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
        )


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
