"""The worker: claim due texts, send them, record what happened, retry, reconcile.

A text is claimed with a short lease that a heartbeat renews while its worker lives. If the
lease runs out while the text is still `sending` (a worker killed mid-batch, a timeout after
the request went out), the next claim asks the provider whether it was sent before trying
again, so nobody gets the same text twice. A send is only started while the lease has a
provider timeout left, so a dead worker's last request is over before anyone looks.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.care import broadcasts, push, states
from app.care.automations import RATING_WINDOW, alert_unanswered
from app.care.moments import Planned, plan_moments
from app.care.outbound import (
    TO_OWNER,
    cancel_pending,
    check_before_send,
    goes_later,
    introduce,
    may_reach_opted_out,
    preview,
    size_of,
)
from app.care.push import NOTICE_RETENTION
from app.care.status import apply_status_callback, flag_customer_for_error
from app.clock import Clock, SystemClock
from app.config import Settings
from app.db import changed, is_postgres, read_only, session_scope
from app.models import (
    Broadcast,
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
    OptedOutNumber,
    PushNotice,
    SenderPace,
    StatusCallback,
)
from app.sms.errors import Action, classify
from app.sms.gateway import Accepted, OutgoingText, SendFailed, SmsGateway
from app.webpush import (
    PUSH_TIMEOUT_SECONDS,
    PushAction,
    PushAnswer,
    PushSender,
    VapidKeys,
    WebPushSender,
)

log = logging.getLogger("regulars.dispatcher")
T = TypeVar("T")
R = TypeVar("R")

PACING_HORIZON_SECONDS = 5.0  # claim no further ahead than this for one sending number
SLOW_DOWN_SECONDS = 30.0  # how far a full sender queue pushes the number's next slot
MAX_BACKOFF_SECONDS = 900.0
LEASE_MARGIN_SECONDS = 1.0  # a lookup is not started this close to the end of its lease
SEND_SLACK_SECONDS = 0.5  # a send needs the provider timeout and this much lease left
# What a sent text of a kind records on its customer (default: they have been introduced).
SENT_EFFECTS = {
    MessageKind.ALERT: (),
    MessageKind.REVIEW_REQUEST: ("introduced", "asked_review"),
    MessageKind.FEEDBACK_QUESTION: ("introduced", "asked_review", "asked_rating"),
    MessageKind.EFFORT_QUESTION: ("introduced", "asked_effort"),
}
SWEEP_EVERY_SECONDS = 60.0  # how often the worker looks for unanswered customers
# how often the moments are planned: each business's day soon after its midnight (idempotent)
PLAN_EVERY_SECONDS = 3600.0
PRUNE_BATCH = 1000  # status callbacks deleted per transaction, so no prune holds a long lock
PRUNE_BATCHES = 10  # per sweep: a backlog shrinks by 10,000 a minute
PUSH_BATCH = 50  # notifications sent per run
PERMANENT_CANCELS_PLAN = {Action.OPTED_OUT, Action.BAD_NUMBER, Action.LANDLINE}
QUIET_KINDS = TO_OWNER | {MessageKind.BROADCAST}  # texts that leave the inbox's order alone


@dataclass
class Job:
    message_id: int
    text: OutgoingText
    reconcile_since: datetime | None  # set when an earlier attempt's outcome is unknown
    not_before: float = 0.0  # unix time of this sender's slot
    sender: str = ""
    rate: float = 1.0  # the sender's texts per second
    lease_until: float = 0.0  # unix time: past it, another worker may take the text over
    known_sids: frozenset[str] = frozenset()  # texts to the same number we already hold
    business_id: int = 0
    # checked against the number's opt-out right before the provider is called
    opt_out_guard: bool = True
    broadcast_id: int | None = None
    per_hour: int | None = None  # its broadcast's own pace (at most this many an hour)


@dataclass
class Outcome:
    job: Job
    accepted: Accepted | None = None
    failure: SendFailed | None = None
    not_found: bool = False  # reconciled: the provider has no such text
    skipped: bool = False  # the lease ran out before the request: left for reconciliation
    withheld: bool = False  # its number opted out after the claim: never handed over


@dataclass
class RunStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    canceled: int = 0
    rescheduled: int = 0
    unknown: int = 0
    reconciled: int = 0
    callbacks: int = 0
    pushed: int = 0  # notifications a push service took
    by_status: dict = field(default_factory=lambda: defaultdict(int))

    def add(self, other: RunStats) -> None:
        for name in ("claimed", "sent", "retried", "failed", "canceled", "rescheduled",
                     "unknown", "reconciled", "callbacks", "pushed"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        gateway: SmsGateway,
        settings: Settings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        worker_id: str | None = None,
        push: PushSender | None = None,
    ):
        self.engine = engine
        self.gateway = gateway
        self.push = push if push is not None else WebPushSender()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._pool: ThreadPoolExecutor | None = None
        self._last_sweep: datetime | None = None
        self._last_plan: datetime | None = None
        self._lock = threading.Lock()
        timeout = settings.twilio_timeout_seconds
        # Renewed every third of LEASE_SECONDS, a lease always has a send's timeout left.
        self._lease = timedelta(seconds=timeout + settings.lease_seconds)
        self._heartbeat_every = settings.lease_seconds / 3
        self._send_margin = timeout + SEND_SLACK_SECONDS

    # ---- the loop -------------------------------------------------------------------------

    def run_once(self, max_batches: int | None = None) -> RunStats:
        """Send everything due now, then play any callbacks the gateway produced."""
        total = RunStats()
        batches = 0
        while max_batches is None or batches < max_batches:
            self.advance_broadcasts()
            stats = self.run_batch()
            total.add(stats)
            batches += 1
            if stats.claimed < self.settings.worker_batch_size:
                break
        total.callbacks += self.play_gateway_events()
        self.sweep()
        total.pushed += self.send_pushes()  # after the sweep: its alerts go in this run
        return total

    def advance_broadcasts(self) -> int:
        """Write the next batch of every broadcast due (app.care.broadcasts.advance), each in
        its own transaction; returns how many texts were written. A failure is logged and
        leaves that broadcast where it was: its next batch is tried on the next run."""
        written = 0
        for _ in range(broadcasts.ROUNDS):
            with session_scope(self.engine) as session:
                now = self.clock.now()
                found = broadcasts.due(session, now=now, limit=1,
                                       skip_locked=is_postgres(self.engine))  # fmt: skip
                if not found:
                    return written
                try:
                    done = broadcasts.advance(session, found[0], now=now,
                                              base_url=self.settings.public_base_url)  # fmt: skip
                    session.commit()
                except Exception:
                    log.exception("broadcast %s could not advance", found[0].id)
                    session.rollback()
                    return written
            written += done.written
            if not (done.written or done.skipped):
                return written
        return written

    def sweep(self, force: bool = False) -> int:
        """Periodic care work: alert owners about customers left unanswered, and prune status
        callbacks past their retention. Returns how many owners were alerted."""
        now = self.clock.now()
        if (
            not force
            and self._last_sweep
            and (now - self._last_sweep).total_seconds() < (SWEEP_EVERY_SECONDS)
        ):
            return 0
        self._last_sweep = now
        with session_scope(self.engine) as session:
            alerted = alert_unanswered(session, now=now, base_url=self.settings.public_base_url)
            session.commit()
        self.prune_status_callbacks(now)
        self.prune_push_notices(now)
        self.plan_moments(now, force=force)
        return alerted

    def plan_moments(self, now: datetime, force: bool = False) -> Planned | None:
        """The hourly planning run: milestone heads-ups, anniversaries and birthdays due."""
        if (
            not force
            and self._last_plan
            and ((now - self._last_plan).total_seconds() < PLAN_EVERY_SECONDS)
        ):
            return None
        self._last_plan = now
        with session_scope(self.engine) as session:
            planned = plan_moments(session, now=now, base_url=self.settings.public_base_url)
            session.commit()
        return planned

    def prune_status_callbacks(self, now: datetime) -> int:
        """Delete stored status callbacks (and the payloads Twilio sent, phone numbers and
        all) older than STATUS_PAYLOAD_RETENTION_DAYS, oldest first, in short transactions of
        at most PRUNE_BATCH rows; returns how many. What a callback did stays on its message."""
        cutoff = now - timedelta(days=self.settings.status_payload_retention_days)
        return self._prune(StatusCallback, col(StatusCallback.received_at), cutoff)

    def prune_push_notices(self, now: datetime) -> int:
        """Delete notifications older than a week (sent or not: their news is old)."""
        return self._prune(PushNotice, col(PushNotice.created_at), now - NOTICE_RETENTION)

    def _prune(self, model, when, cutoff: datetime) -> int:
        """Delete `model` rows whose `when` is before `cutoff`, oldest first, in short
        transactions of at most PRUNE_BATCH rows, so no prune holds a long lock."""
        pruned = 0
        for _ in range(PRUNE_BATCHES):
            oldest = select(model.id).where(when < cutoff).order_by(when).limit(PRUNE_BATCH)
            if is_postgres(self.engine):
                oldest = oldest.with_for_update(skip_locked=True)  # another worker's batch
            with session_scope(self.engine) as session:
                deleted = changed(session.execute(
                    delete(model)
                    .where(model.id.in_(oldest))
                    .execution_options(synchronize_session=False)
                ))  # fmt: skip
                session.commit()
            pruned += deleted
            if deleted < PRUNE_BATCH:
                break
        return pruned

    # ---- notifications on the owner's devices (Web Push) ----------------------------------

    def send_pushes(self) -> int:
        """Send due notifications (app.care.push) after the texts, retry what a push service
        could not take, forget devices it says are gone; returns how many it took. The
        webhook that caused a notice has long answered: nothing here reaches it."""
        now = self.clock.now()
        lease = timedelta(seconds=PUSH_TIMEOUT_SECONDS + self.settings.lease_seconds)
        with session_scope(self.engine) as session:
            jobs = push.claim(session, now=now, lease=lease, limit=PUSH_BATCH,
                              skip_locked=is_postgres(self.engine))  # fmt: skip
            if not jobs:
                return 0
            keys = push.vapid_keys(session, now=now)
            session.commit()
        answers = self._map(lambda job: self._push_one(job, keys), jobs)
        outcomes = []
        with session_scope(self.engine) as session:
            now = self.clock.now()
            for job, answer in zip(jobs, answers, strict=True):
                outcomes.append(push.record(session, job, answer, now=now,
                                            retry_in=self._backoff(job.attempts)))  # fmt: skip
            session.commit()
        return outcomes.count("sent")

    def _push_one(self, job: push.PushJob, keys: VapidKeys) -> PushAnswer:
        try:
            return self.push.send(job.target, job.payload, keys=keys,
                                  subject=self.settings.push_subject, urgency=job.urgency,
                                  topic=job.topic)  # fmt: skip
        except Exception as exc:  # a bug or an unexpected library error: retry later
            log.exception("unexpected error sending push notice %s", job.notice_id)
            return PushAnswer(PushAction.RETRY, None, repr(exc)[:200])

    def run_forever(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; a batch in flight is finished first."""
        log.info("dispatcher %s started", self.worker_id)
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # keep the worker alive; the next poll tries again
                log.exception("dispatcher run failed")
                stats = RunStats()
            if stats.claimed == 0:
                stop.wait(self.settings.worker_poll_seconds)
        self.close()
        log.info("dispatcher %s stopped", self.worker_id)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run_batch(self) -> RunStats:
        stats = RunStats()
        jobs = self._claim(stats)
        if jobs:
            with self._heartbeat(jobs):
                outcomes = self._execute(jobs)
            self._record(outcomes, stats)
        return stats

    # ---- leases ---------------------------------------------------------------------------

    @contextmanager
    def _heartbeat(self, jobs: list[Job]) -> Iterator[None]:
        """Renew the batch's leases every third of LEASE_SECONDS while it is sent: a live
        worker keeps its texts, and a dead one's are reconciled within a lease."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self._heartbeat_every):
                try:
                    self.renew_leases(jobs)
                except Exception:  # a missed beat only means fewer sends may start
                    log.exception("could not renew the leases of %d texts", len(jobs))

        thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def renew_leases(self, jobs: list[Job]) -> int:
        """Extend the lease of every text of `jobs` this worker still holds; returns how many.
        A job's own deadline moves only once the database has the new lease."""
        until = self.clock.now() + self._lease
        with session_scope(self.engine) as session:
            held = set(
                session.execute(
                    update(Message)
                    .where(
                        col(Message.id).in_([job.message_id for job in jobs]),
                        col(Message.status) == MessageStatus.SENDING,
                        col(Message.leased_by) == self.worker_id,
                    )
                    .values(lease_until=until)
                    .returning(col(Message.id))
                    .execution_options(synchronize_session=False)
                ).scalars()
            )
            session.commit()
        for job in jobs:
            if job.message_id in held:
                job.lease_until = max(job.lease_until, until.timestamp())
        return len(held)

    # ---- claim ----------------------------------------------------------------------------

    def _claim(self, stats: RunStats) -> list[Job]:
        now = self.clock.now()
        limit = self.settings.worker_batch_size
        with session_scope(self.engine) as session:
            expired = self._lock_due(
                session,
                select(col(Message.id))
                .where(col(Message.status) == MessageStatus.SENDING, col(Message.lease_until) < now)
                .order_by(col(Message.lease_until)),
                limit,
            )
            due = self._lock_due(
                session,
                select(col(Message.id))
                .where(col(Message.status) == MessageStatus.SCHEDULED, col(Message.send_at) <= now)
                .order_by(col(Message.send_at), col(Message.id)),
                limit - len(expired),
            )
            ids = expired + due
            if not ids:
                return []
            stats.claimed = len(ids)
            lease = self._lease
            rows = session.exec(
                select(Message, Customer, Business)
                .join(Customer, col(Customer.id) == col(Message.customer_id))
                .join(Business, col(Business.id) == col(Message.business_id))
                .where(col(Message.id).in_(ids))
                .order_by(col(Message.send_at), col(Message.id))
            ).all()
            jobs: list[Job] = []
            expired_ids = set(expired)
            paces = self._broadcast_paces(session, [m.broadcast_id for m, _c, _b in rows])
            for message, customer, business in rows:
                reconcile = message.id in expired_ids
                job = self._prepare(
                    session, message, customer, business, now, stats, reconcile=reconcile,
                    lease=lease,
                )  # fmt: skip
                if job is not None:
                    job.per_hour = paces.get(job.broadcast_id or 0)
                    jobs.append(job)
            jobs = self._pace(session, jobs, now, stats)
            session.commit()
        return jobs

    def _broadcast_paces(self, session: Session, ids: list[int | None]) -> dict[int, int]:
        """The broadcasts of these texts that have a pace of their own (texts an hour)."""
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        query = select(col(Broadcast.id), col(Broadcast.per_hour)).where(
            col(Broadcast.id).in_(wanted), col(Broadcast.per_hour).is_not(None)
        )
        return {id_: per_hour for id_, per_hour in session.exec(query) if per_hour}

    def _lock_due(self, session: Session, query, limit: int) -> list[int]:
        if limit <= 0:
            return []
        query = query.limit(limit)
        if is_postgres(self.engine):
            query = query.with_for_update(skip_locked=True)
        return list(session.exec(query).all())

    def _prepare(self, session, message, customer, business, now, stats, *, reconcile, lease):
        if reconcile:
            # The last attempt's outcome is unknown: no rule check, only "was it sent?".
            message.lease_until = now + lease
            message.leased_by = self.worker_id
            session.add(message)
            stats.reconciled += 1
            job = self._job(message, business, reconcile_since=message.last_attempt_at or now)
            # Look among texts from the number the attempt used (set when it was claimed).
            job.text = replace(job.text, from_number=message.from_number or business.number)
            # An identical earlier text to the same number must not be taken for this one.
            job.known_sids = frozenset(
                session.exec(
                    select(col(Message.provider_sid)).where(
                        col(Message.to_number) == message.to_number,
                        col(Message.provider_sid).is_not(None),
                        col(Message.created_at) > now - timedelta(days=2),
                    )
                ).all()
            )
            return job
        verdict = check_before_send(session, message, business, customer, now)
        if verdict.action == "cancel":
            states.cancel(message, verdict.reason)
            stats.canceled += 1
        elif verdict.action == "fail":
            states.fail(message, verdict.reason)
            stats.failed += 1
        elif verdict.action == "reschedule":
            states.reschedule(message, verdict.send_at, why=verdict.reason)
            stats.rescheduled += 1
        else:
            body = introduce(message.body, business, customer, message.kind)
            if body != message.body:
                message.body = body
                message.segments, message.encoding = size_of(body, message.media_urls)
            states.claim(message, worker_id=self.worker_id, lease_until=now + lease, now=now)
            message.from_number = business.number
            session.add(message)
            return self._job(message, business, reconcile_since=None)
        session.add(message)
        return None

    def _job(self, message: Message, business: Business, reconcile_since) -> Job:
        if message.to_number is None or message.lease_until is None:
            raise ValueError(f"message {message.id} was claimed without a number or a lease")
        callback = None
        if self.settings.public_base_url:
            base = self.settings.public_base_url.rstrip("/")
            callback = f"{base}/webhooks/twilio/status?mid={message.id}"
        text = OutgoingText(
            message_id=message.id,
            to=message.to_number,
            body=message.body,
            from_number=business.number,
            messaging_service_sid=business.messaging_service_sid,
            status_callback=callback,
            validity_period=self.settings.validity_period_seconds,
            media_urls=tuple(item["url"] for item in message.media_urls or ()),
        )
        sender = business.messaging_service_sid or business.number or f"business:{business.id}"
        return Job(
            message.id,
            text,
            reconcile_since,
            sender=sender,
            rate=business.send_rate_per_second,
            lease_until=message.lease_until.timestamp(),
            business_id=business.id,
            opt_out_guard=not may_reach_opted_out(business, message.kind),
            broadcast_id=message.broadcast_id,
        )

    def _pace(self, session: Session, jobs: list[Job], now: datetime, stats) -> list[Job]:
        """Give each job its sender's next slot; jobs beyond the horizon go back to the outbox.
        A broadcast with a pace of its own (per hour, the owner's choice, kept whatever the
        operator's SEND_PACING) takes its own slot first."""
        jobs = self._pace_broadcasts(session, jobs, now, stats)
        if not self.settings.pacing:
            return jobs
        now_ts = now.timestamp()
        by_sender: dict[str, list[Job]] = defaultdict(list)
        ready: list[Job] = []
        for job in jobs:
            if job.reconcile_since is not None:
                ready.append(job)  # a lookup, not a send: it takes no slot and never goes back
            else:
                by_sender[job.sender].append(job)
        for sender, group in by_sender.items():
            rate = max(group[0].rate or 1.0, 0.01)
            slots = self._reserve(session, sender, rate, len(group), now_ts)
            for job, slot in zip(group, slots, strict=False):
                job.not_before = max(job.not_before, slot)
                ready.append(job)
            later = group[len(slots) :]
            if later:
                next_free = datetime.fromtimestamp(slots[-1] + 1.0 / rate if slots else now_ts,
                                                   tz=now.tzinfo)  # fmt: skip
                states.release_claims(session, [j.message_id for j in later], send_at=next_free)
                stats.rescheduled += len(later)
        return ready

    def _pace_broadcasts(self, session: Session, jobs: list[Job], now: datetime, stats
                         ) -> list[Job]:  # fmt: skip
        by_broadcast: dict[int, list[Job]] = defaultdict(list)
        ready: list[Job] = []
        for job in jobs:
            if job.per_hour and job.broadcast_id and job.reconcile_since is None:
                by_broadcast[job.broadcast_id].append(job)
            else:
                ready.append(job)
        now_ts = now.timestamp()
        for broadcast_id, group in by_broadcast.items():
            rate = group[0].per_hour / 3600.0  # type: ignore[operator]
            slots = self._reserve(session, f"broadcast:{broadcast_id}", rate, len(group), now_ts)
            for job, slot in zip(group, slots, strict=False):
                job.not_before = max(job.not_before, slot)
                ready.append(job)
            later = group[len(slots) :]
            if later:
                next_free = slots[-1] + 1.0 / rate if slots else now_ts + 1.0 / rate
                states.release_claims(
                    session,
                    [j.message_id for j in later],
                    send_at=datetime.fromtimestamp(next_free, tz=now.tzinfo),
                )
                stats.rescheduled += len(later)
        return ready

    def _reserve(self, session, sender: str, rate: float, count: int, now_ts: float) -> list[float]:
        dialect_insert = postgresql.insert if is_postgres(self.engine) else sqlite.insert
        session.execute(
            dialect_insert(SenderPace)
            .values(sender=sender, next_slot_at=0.0)
            .on_conflict_do_nothing(index_elements=["sender"])
        )
        pace = session.exec(
            select(SenderPace).where(col(SenderPace.sender) == sender).with_for_update()
        ).one()
        interval = 1.0 / rate
        slot = max(pace.next_slot_at, now_ts)
        slots: list[float] = []
        while len(slots) < count and (not slots or slot <= now_ts + PACING_HORIZON_SECONDS):
            slots.append(slot)
            slot += interval
        pace.next_slot_at = slot
        session.add(pace)
        return slots

    # ---- send -----------------------------------------------------------------------------

    def _execute(self, jobs: list[Job]) -> list[Outcome]:
        return self._map(self._attempt, jobs)

    def _map(self, send: Callable[[T], R], jobs: list[T]) -> list[R]:
        """Send each job, WORKER_CONCURRENCY at a time; the answers in the jobs' order."""
        if len(jobs) == 1 or self.settings.worker_concurrency <= 1:
            return [send(job) for job in jobs]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.worker_concurrency, thread_name_prefix="send"
                )
        return list(self._pool.map(send, jobs))

    def _attempt(self, job: Job) -> Outcome:
        wait = job.not_before - self.clock.now().timestamp()
        if wait > 0:
            self.sleep(wait)
        left = job.lease_until - self.clock.now().timestamp()
        if job.reconcile_since is None and left < self._send_margin:
            # The heartbeat is late (or the clock jumped): renew this one lease first. A send
            # must never outlive its lease, or another worker could reconcile it mid-flight.
            try:
                self.renew_leases([job])
            except Exception:  # no database, no new lease: the send waits for reconciliation
                log.exception("could not renew the lease of message %s", job.message_id)
            left = job.lease_until - self.clock.now().timestamp()
            if left < self._send_margin:
                return Outcome(job, skipped=True)  # another worker has it now, or soon will
        elif left < LEASE_MARGIN_SECONDS:
            return Outcome(job, skipped=True)
        try:
            if job.reconcile_since is not None:
                text = job.text
                # Through a Messaging Service, Twilio picks the sending number itself.
                sender = None if text.messaging_service_sid else text.from_number
                found = self.gateway.find_sent(
                    text.to, text.body, job.reconcile_since, exclude=job.known_sids,
                    from_number=sender,
                )  # fmt: skip
                if found is not None:
                    return Outcome(job, accepted=found)
                return Outcome(job, not_found=True)
            if job.opt_out_guard and self._opted_out(job):
                return Outcome(job, withheld=True)
            return Outcome(job, accepted=self.gateway.send(job.text))
        except SendFailed as failure:
            return Outcome(job, failure=failure)
        except Exception as exc:  # a bug or an unexpected library error: retry later
            log.exception("unexpected error sending message %s", job.message_id)
            return Outcome(job, failure=SendFailed(repr(exc)[:200], outcome_unknown=True))

    def _opted_out(self, job: Job) -> bool:
        """Did the number opt out since the claim (a STOP while the text waited for its slot
        or its turn)? One primary-key read that never queues behind a writer."""
        query = select(col(OptedOutNumber.phone)).where(
            col(OptedOutNumber.business_id) == job.business_id,
            col(OptedOutNumber.phone) == job.text.to,
        )
        with read_only(self.engine) as connection:
            return connection.execute(query).first() is not None

    # ---- record ---------------------------------------------------------------------------

    def _record(self, outcomes: list[Outcome], stats: RunStats) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            messages = {
                m.id: m
                for m in session.exec(
                    select(Message)
                    .where(col(Message.id).in_([o.job.message_id for o in outcomes]))
                    .with_for_update()
                )
            }
            delivered_to: dict[str, set[int]] = defaultdict(set)
            went: list[Message] = []
            progress: dict[int, broadcasts.Progress] = defaultdict(broadcasts.Progress)
            for outcome in outcomes:
                message = messages.get(outcome.job.message_id)
                accepted = message is not None and self._record_one(session, message, outcome,
                                                                    now, stats)  # fmt: skip
                if message is not None and message.broadcast_id is not None:
                    self._progress(progress[message.broadcast_id], outcome, accepted)
                if accepted and message is not None:
                    for effect in SENT_EFFECTS.get(message.kind, ("introduced",)):
                        delivered_to[effect].add(message.customer_id)
                    # (a broadcast's texts never reorder the inbox: their answers do)
                    if message.kind not in QUIET_KINDS and goes_later(message):
                        went.append(message)
            if progress:
                broadcasts.stalled(session, progress, now=now)
            self._mark_customers(session, delivered_to, now)
            for message in went:  # few: only texts that waited for their time
                session.execute(
                    update(Customer)
                    .where(col(Customer.id) == message.customer_id)
                    .values(
                        last_activity_at=now,
                        last_message_preview=preview(message.body, len(message.media_urls or ())),
                    )
                )
            session.commit()

    @staticmethod
    def _progress(seen: broadcasts.Progress, outcome: Outcome, accepted: bool) -> None:
        """One broadcast text's attempt: accepted, or failed for a reason that is not its
        recipient's own number (those fail that recipient and say nothing of the rest)."""
        if accepted:
            seen.attempts.append(True)
            return
        failure = outcome.failure
        if failure is None or failure.outcome_unknown:
            return
        rule = classify(failure.code, failure.http_status)
        if rule.action in PERMANENT_CANCELS_PLAN:
            return
        seen.attempts.append(False)
        if failure.code in broadcasts.BLOCKING_CODES or rule.action is Action.CONFIGURATION:
            seen.blocked = f"{rule.reason} (error {failure.code})"

    def _mark_customers(self, session, delivered_to: dict[str, set[int]], now) -> None:
        """What a sent text says about its customer, one UPDATE per kind of effect."""
        if delivered_to.get("introduced"):
            session.execute(
                update(Customer)
                .where(
                    col(Customer.id).in_(delivered_to["introduced"]),
                    col(Customer.introduced_at).is_(None),
                )
                .values(introduced_at=now)
            )
        if delivered_to.get("asked_review"):
            session.execute(
                update(Customer)
                .where(col(Customer.id).in_(delivered_to["asked_review"]))
                .values(last_review_request_at=now)
            )
        if delivered_to.get("asked_rating"):
            session.execute(
                update(Customer)
                .where(col(Customer.id).in_(delivered_to["asked_rating"]))
                .values(awaiting_rating_until=now + RATING_WINDOW)
            )
        if delivered_to.get("asked_effort"):
            session.execute(
                update(Customer)
                .where(col(Customer.id).in_(delivered_to["asked_effort"]))
                .values(awaiting_effort_until=now + RATING_WINDOW)
            )

    def _record_one(self, session, message: Message, outcome: Outcome, now, stats) -> bool:
        """Apply one outcome; True when the text was accepted by the provider."""
        if outcome.skipped:
            return False  # its lease runs out and the next claim reconciles it
        if outcome.accepted is not None:
            accepted = outcome.accepted
            if not states.mark_sent(message, accepted.sid, now=now):
                return False  # a callback already tied another SID to it; keep what we have
            states.report(message, accepted.status, now=now)
            if accepted.segments:
                message.segments = accepted.segments
            session.add(message)
            stats.sent += 1
            return True
        if message.status != MessageStatus.SENDING or message.leased_by != self.worker_id:
            return False  # a status callback or another worker settled it meanwhile
        if outcome.withheld:
            states.withdraw(message, "the number opted out")
            session.add(message)
            stats.canceled += 1
            return False
        if outcome.not_found:
            # Reconciled: the provider never got it, so sending it now cannot double it.
            if message.attempts >= self.settings.max_send_attempts:
                self._fail(session, message, None, "Gave up after repeated unknown outcomes.")
                stats.failed += 1
            else:
                self._retry_now(message, now)
                stats.retried += 1
            session.add(message)
            return False
        failure = outcome.failure
        assert failure is not None
        if failure.outcome_unknown or outcome.job.reconcile_since is not None:
            # Keep it `sending`; when the lease runs out it is reconciled, never blindly resent.
            grace = self.settings.reconcile_grace_seconds
            message.lease_until = now + timedelta(seconds=self._backoff(message.attempts, grace))
            message.error_message = f"Outcome unknown, checking with the provider ({failure})"[:300]
            session.add(message)
            stats.unknown += 1
            return False
        rule = classify(failure.code, failure.http_status)
        if rule.action in {Action.RETRY, Action.SLOW_DOWN}:
            if message.attempts < self.settings.max_send_attempts:
                retry_at = now + timedelta(seconds=self._backoff(message.attempts))
                states.reschedule(message, retry_at, reason=rule.reason)
                if rule.action is Action.SLOW_DOWN:
                    self._push_pace(session, outcome.job.sender, now)
                stats.retried += 1
            else:
                self._fail(session, message, failure.code, rule.reason)
                stats.failed += 1
            session.add(message)
            return False
        self._fail(session, message, failure.code, rule.reason)
        stats.failed += 1
        # A failure of a text to the owner's alert phone says nothing about the customer.
        if rule.action in PERMANENT_CANCELS_PLAN and message.kind not in TO_OWNER:
            customer = session.get(Customer, message.customer_id)
            if customer is not None and flag_customer_for_error(
                session, customer, failure.code, now, number=message.to_number
            ):
                cancel_pending(session, customer_id=customer.id, reason=rule.reason)
        if rule.action is Action.CONFIGURATION:
            log.error("business %s cannot send: %s", message.business_id, rule.reason)
        return False

    def _retry_now(self, message: Message, now: datetime) -> None:
        states.reschedule(message, now)

    def _fail(self, session, message: Message, code: int | None, reason: str) -> None:
        states.fail(message, reason, code=code)
        session.add(message)

    def _backoff(self, attempts: int, base: float | None = None) -> float:
        """Exponential backoff with full jitter, at least one second."""
        base = self.settings.backoff_base_seconds if base is None else base
        ceiling = min(MAX_BACKOFF_SECONDS, base * (2 ** max(attempts - 1, 0)))
        return max(1.0, self.rng.uniform(ceiling / 2, ceiling))

    def _push_pace(self, session, sender: str, now: datetime) -> None:
        pace = session.get(SenderPace, sender, with_for_update=True)
        if pace is not None:
            pace.next_slot_at = max(pace.next_slot_at, now.timestamp()) + SLOW_DOWN_SECONDS
            session.add(pace)

    # ---- callbacks the gateway made itself (the simulator) ----------------------------------

    def play_gateway_events(self) -> int:
        """Apply the status reports the gateway produced itself, one transaction each (as
        Twilio's own callbacks would come)."""
        reports = self.gateway.drain_events()
        for report in reports:
            with session_scope(self.engine) as session:
                apply_status_callback(session, report, now=self.clock.now())
                session.commit()
        return len(reports)
