"""The inbound section's load client: signed texts like Twilio's, over keep-alive.

`run_load(spec)` runs `spec["threads"]` sender threads in this process; the section runs it
in a few processes at once (so one client GIL does not add its own queueing to the latency
it measures). Every thread keeps one http.client connection open, signs each request the way
Twilio does (X-Twilio-Signature over the public URL and the form), and records the latency
of the requests that start inside the measured window (after the warm-up).
"""

from __future__ import annotations

import http.client
import os
import random
import resource
import time
from collections import Counter
from threading import Thread
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

BODIES = (
    "Running 5 min late, see you soon",
    "Can I move my appointment to Friday?",
    "Thanks, that was great!",
    "Do you have anything open tomorrow afternoon?",
    "Is parking available near the shop?",
    "What time do you close today?",
    "See you at 3",
    "Perfect, thank you so much",
)


def inbound_form(sid: str, account_sid: str, from_number: str, to_number: str, body: str):
    """The form Twilio posts for an inbound SMS (same fields, same order)."""
    return {
        "ToCountry": "US",
        "ToState": "NY",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "NEW YORK",
        "FromZip": "10001",
        "SmsSid": sid,
        "FromState": "NY",
        "SmsStatus": "received",
        "FromCity": "NEW YORK",
        "Body": body,
        "FromCountry": "US",
        "To": to_number,
        "ToZip": "10001",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }


def _sender(spec: dict, index: int, out: dict) -> None:
    host, port, path = spec["host"], spec["port"], spec["path"]
    url = spec["public_base_url"].rstrip("/") + path
    validator = RequestValidator(spec["auth_token"])
    rng = random.Random(spec["seed"] * 1000 + index)
    phones = spec["phones"]
    start, measure_from, stop = spec["start_at"], spec["measure_from"], spec["stop_at"]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    reconnects = 0
    sent = 0
    completed = 0  # requests that finished inside the measured window

    def build(seq: int) -> tuple[bytes, dict]:
        sid = f"SM{spec['seed']:04x}{index:04x}{seq:024x}"
        form = inbound_form(
            sid, spec["account_sid"], rng.choice(phones), spec["to_number"], rng.choice(BODIES)
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, form),
            "User-Agent": "TwilioProxy/1.1",
        }
        return urlencode(form).encode(), headers

    # Sign ahead, before the clock starts, so the client spends little CPU during the run
    # (the servers share this machine's cores with it); more are signed on the fly if needed.
    prepared = [build(seq) for seq in range(1, spec.get("prebuild", 0) + 1)]
    prepared.reverse()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while time.monotonic() < start:
        time.sleep(0.001)
    seq = len(prepared)
    prebuilt = seq
    cpu0 = resource.getrusage(resource.RUSAGE_THREAD)
    while True:
        if time.monotonic() >= stop:
            break
        if prepared:
            payload, headers = prepared.pop()
        else:
            seq += 1
            payload, headers = build(seq)
        status = None
        for attempt in range(2):
            t0 = time.monotonic()
            try:
                conn.request("POST", path, body=payload, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                t1 = time.monotonic()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                reconnects += 1
                if attempt == 1:
                    errors.append(repr(exc)[:200])
        sent += 1
        if status is None:
            continue
        statuses[status] += 1
        if measure_from <= t1 <= stop:
            completed += 1
            if t0 >= measure_from:
                latencies.append(t1 - t0)
    cpu1 = resource.getrusage(resource.RUSAGE_THREAD)
    conn.close()
    out[index] = {
        "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
        "reconnects": reconnects,
        "sent": sent,
        "completed": completed,
        "signed_during_run": seq - prebuilt,
    }


def run_load(spec: dict) -> dict:
    """Run the sender threads of one client process; returns what they measured."""
    out: dict[int, dict] = {}
    base = spec["first_thread"]
    threads = [
        Thread(target=_sender, args=(spec, base + i, out), daemon=True)
        for i in range(spec["threads"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    for result in out.values():
        statuses.update(result["statuses"])
        latencies.extend(result["latencies"])
        errors.extend(result["errors"])
    return {
        "latencies": latencies,
        "statuses": dict(statuses),
        "errors": errors,
        "reconnects": sum(r["reconnects"] for r in out.values()),
        "sent": sum(r["sent"] for r in out.values()),
        "completed": sum(r["completed"] for r in out.values()),
        "signed_during_run": sum(r["signed_during_run"] for r in out.values()),
        "threads_done": len(out),
        "pid": os.getpid(),
        # CPU of the sender threads while sending (signing ahead not included)
        "cpu_seconds": sum(r["cpu_seconds"] for r in out.values()),
    }


def ready() -> bool:
    """A no-op for warming the client processes up before the first run."""
    return True
