"""The people who run a business's care: sign-in, throttling, the team and API keys. Plain
functions over a session; no Flask, and no commits (the request that called them commits)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.care import push
from app.care.businesses import PASSWORD_METHOD
from app.care.staff import sync_user
from app.contract import parse
from app.contract.commands import ROLES, Invite, NewPassword, Profile, StaffSave
from app.errors import Invalid
from app.models import ApiKey, Business, SignInAttempt, SignInLock, User

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
FIRST_LOCKOUT = timedelta(minutes=15)
LOCKOUT_GROWTH = 4
LONGEST_LOCKOUT = timedelta(days=1)
LOCKOUT_MEMORY = timedelta(days=7)
MAX_FAILURES_PER_ADDRESS = 30  # a shop's staff may share one address
INVITE_MAX_AGE = timedelta(days=7)
FORGET_ATTEMPTS_AFTER = timedelta(days=1)


class SignInFailed(Exception):
    """Wrong email or password; the message never says which."""

    message = "That email and password do not match an account."


class SignInThrottled(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---- passwords ----------------------------------------------------------------------------


def check_new_password(password: str, email: str = "") -> str:
    """Raise Invalid (field "password") unless `password` is acceptable as a new password."""
    return parse(NewPassword, {"password": password or "", "email": email}).password


def hash_password(password: str, method: str = PASSWORD_METHOD) -> str:
    return generate_password_hash(password, method=method)


@lru_cache(maxsize=4)
def _decoy_hash(method: str) -> str:
    # Checked when no account matches, so a wrong email costs as long as a wrong password.
    return generate_password_hash(secrets.token_hex(16), method=method)


def session_fingerprint(user: User) -> str:
    """Kept in the session cookie: changes whenever the password changes or the user signs
    out everywhere, which ends every session they had."""
    text = f"{user.id}:{user.password_hash}:{user.session_version}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def sign_out_everywhere(session: Session, user: User) -> None:
    """End every session of this user, on every device (this one too, until signed in
    again), and their notifications on every device. Not committed."""
    user.session_version += 1
    session.add(user)
    push.forget_all_devices(session, user.id)


# ---- signing in ---------------------------------------------------------------------------


def normalize_email(email: str | None) -> str:
    return " ".join((email or "").split()).lower()[:254]


def _failures_since(session: Session, since: datetime, *, email=None, address=None) -> int:
    query = select(func.count(col(SignInAttempt.id))).where(col(SignInAttempt.created_at) >= since)
    if email is not None:
        query = query.where(col(SignInAttempt.email) == email)
    if address is not None:
        query = query.where(col(SignInAttempt.remote_addr) == address)
    return session.exec(query).one()


def lockout_length(lockouts: int) -> timedelta:
    """15 minutes, then an hour, 4 hours, 16 hours, then a day: guessing only gets slower."""
    return min(FIRST_LOCKOUT * LOCKOUT_GROWTH ** max(lockouts - 1, 0), LONGEST_LOCKOUT)


def _wait_words(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hours"


def check_throttle(session: Session, email: str, address: str, *, now: datetime) -> None:
    """Raise SignInThrottled while this email is locked out, or when this address failed too
    often lately. Nothing is counted during a lockout, so hammering it changes nothing."""
    lock = session.get(SignInLock, email) if email else None
    if lock is not None and lock.locked_until > now:
        raise SignInThrottled(
            f"Too many failed sign-ins for this email. Wait {_wait_words(lock.locked_until, now)}"
            " and try again."
        )
    since = now - THROTTLE_WINDOW
    minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
    if address and _failures_since(session, since, address=address) >= MAX_FAILURES_PER_ADDRESS:
        raise SignInThrottled(
            f"Too many failed sign-ins from this network. Wait {minutes} minutes and try again."
        )


def _lock_if_due(session: Session, email: str, now: datetime) -> None:
    """Lock the email once it has failed MAX_FAILURES_PER_EMAIL times since its last lockout
    ended (or in the last THROTTLE_WINDOW); each lockout in a row lasts longer."""
    if not email:
        return
    lock = session.get(SignInLock, email)
    since = now - THROTTLE_WINDOW
    if lock is not None and lock.locked_until > since:
        since = lock.locked_until  # failures before the last lockout ended were paid for
    if _failures_since(session, since, email=email) < MAX_FAILURES_PER_EMAIL:
        return
    if lock is None:
        lock = SignInLock(email=email, lockouts=0, locked_until=now, last_lockout_at=now)
    elif lock.last_lockout_at < now - LOCKOUT_MEMORY:
        lock.lockouts = 0  # a quiet week: start again from the shortest lockout
    lock.lockouts += 1
    lock.last_lockout_at = now
    lock.locked_until = now + lockout_length(lock.lockouts)
    session.add(lock)


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    remote_addr: str,
    now: datetime,
    password_method: str = PASSWORD_METHOD,
) -> User:
    """The active user with this email and password.

    Raises SignInThrottled before checking anything when this email or address failed too
    often in the last 15 minutes, and SignInFailed otherwise, after recording the failure
    (the caller keeps that record even though the sign-in failed).
    """
    email = normalize_email(email)
    address = (remote_addr or "")[:64]
    check_throttle(session, email, address, now=now)
    user = session.exec(select(User).where(col(User.email) == email)).first() if email else None
    stored = user.password_hash if user is not None else _decoy_hash(password_method)
    valid = check_password_hash(stored, password or "") if len(password or "") <= 1024 else False
    if user is None or not valid or not user.active:
        session.add(SignInAttempt(email=email, remote_addr=address, created_at=now))
        session.exec(
            delete(SignInAttempt).where(col(SignInAttempt.created_at) < now - FORGET_ATTEMPTS_AFTER)
        )
        session.flush()
        _lock_if_due(session, email, now)
        raise SignInFailed()
    session.exec(delete(SignInAttempt).where(col(SignInAttempt.email) == email))
    session.exec(delete(SignInLock).where(col(SignInLock.email) == email))
    sync_user(session, user, now=now)  # a named member is on the staff list
    if stored.split(":")[0].split("$")[0] != password_method.split(":")[0]:
        user.password_hash = hash_password(password, password_method)  # move to the current method
        session.add(user)
    return user


def user_for_session(session: Session, user_id, fingerprint) -> User | None:
    """The signed-in user for a session cookie's contents, or None when it no longer holds."""
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        return None
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(session_fingerprint(user), fingerprint):
        return None
    return user


def change_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    password_method: str = PASSWORD_METHOD,
) -> None:
    """Change a user's own password (signs out their other sessions)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise Invalid("current_password", "Your current password is not right.")
    check_new_password(new, user.email)
    user.password_hash = hash_password(new, password_method)
    session.add(user)


# ---- the team -----------------------------------------------------------------------------


def team(session: Session, business_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(col(User.business_id) == business_id)
            .order_by(col(User.active).desc(), col(User.role), col(User.name), col(User.email))
        )
    )


def team_member(session: Session, business_id: int, user_id: int) -> User | None:
    """A user of this business, or None: another business's id finds nothing."""
    user = session.get(User, user_id)
    return user if user is not None and user.business_id == business_id else None


def invite(
    session: Session,
    business: Business,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
    password_method: str = PASSWORD_METHOD,
) -> User:
    """Add a team member who signs in after choosing a password through an invite link."""
    command = parse(Invite, {"email": email or "", "name": name or "", "role": role})
    email, name, role = command.email, command.name, command.role
    holder = session.exec(select(col(User.business_id)).where(col(User.email) == email)).first()
    if holder == business.id:
        raise Invalid("email", f"{email} is already on your team.")
    if holder is not None:
        # Whether an address has an account with another business is theirs to know.
        raise Invalid("email", "That address can't be invited. Ask them for another email.")
    user = User(
        business_id=business.id,
        email=email,
        name=name,
        role=role,
        # Nobody knows this password: the invite link sets a real one.
        password_hash=hash_password(secrets.token_urlsafe(24), password_method),
        created_at=now,
    )
    session.add(user)
    session.flush()  # the invite link carries the new member's id
    sync_user(session, user, now=now)  # on the staff list from the start
    return user


def _invites(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="regulars.invite")


def invite_token(secret_key: str, user: User) -> str:
    """A link token for this user to choose a password; it stops working once they do."""
    return _invites(secret_key).dumps({"u": user.id, "f": session_fingerprint(user)})


def user_for_invite(session: Session, secret_key: str, token: str) -> User | None:
    try:
        data = _invites(secret_key).loads(token, max_age=int(INVITE_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    return user_for_session(session, data.get("u"), data.get("f"))


def reset_access(session: Session, user: User, *, password_method: str = PASSWORD_METHOD) -> None:
    """Forget the user's password (signing them out everywhere) so a new invite link can set
    one."""
    user.password_hash = hash_password(secrets.token_urlsafe(24), password_method)
    session.add(user)
    push.forget_all_devices(session, user.id)


def set_password(
    session: Session, user: User, password: str, *, password_method: str = PASSWORD_METHOD
) -> None:
    """Set a password through an invite link."""
    check_new_password(password, user.email)
    user.password_hash = hash_password(password, password_method)
    session.add(user)


def _active_owners(session: Session, business_id: int) -> int:
    return session.exec(
        select(func.count(col(User.id))).where(
            col(User.business_id) == business_id,
            col(User.role) == "owner",
            col(User.active).is_(True),
        )
    ).one()


def set_active(session: Session, actor: User, user: User, active: bool) -> None:
    """Let a team member in again, or keep them out (their sessions end at once)."""
    if user.id == actor.id and not active:
        raise Invalid("user", "You cannot remove yourself.")
    if not active and user.role == "owner" and _active_owners(session, user.business_id) <= 1:
        raise Invalid("user", "A business needs at least one owner.")
    user.active = active
    session.add(user)


def set_role(session: Session, actor: User, user: User, role: str) -> None:
    """Make a team member an owner or staff."""
    if role not in ROLES:
        raise Invalid("role", "Choose owner or staff.")
    if user.id == actor.id and role != "owner":
        raise Invalid("role", "You cannot take your own owner role away.")
    if user.role == "owner" and role != "owner" and _active_owners(session, user.business_id) <= 1:
        raise Invalid("role", "A business needs at least one owner.")
    user.role = role
    session.add(user)


def accept_invite(
    session: Session,
    user: User,
    *,
    name: str,
    password: str,
    confirm: str,
    now: datetime,
    password_method: str = PASSWORD_METHOD,
) -> None:
    """The invited member confirms (or corrects) their name and sets a password (typed twice):
    both, or neither (Invalid carries every field's error)."""
    errors: dict[str, str] = {}
    try:
        name = parse(StaffSave, {"name": name or ""}).name
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        check_new_password(password, user.email)
    except Invalid as exc:
        errors.update(exc.errors)
    if password != confirm and "password" not in errors:
        errors["confirm"] = "The two passwords are not the same."
    if errors:
        raise Invalid.many(errors)
    set_password(session, user, password, password_method=password_method)
    update_profile(session, user, name=name, now=now)


def update_profile(
    session: Session, user: User, *, name: str, now: datetime, required: bool = False
) -> None:
    """Change a user's own name (what their texts are signed with, and their entry on the
    staff list). `required`: an empty name is refused (the first sign-in's question)."""
    model: type[StaffSave | Profile] = StaffSave if required else Profile
    user.name = parse(model, {"name": name or ""}).name
    session.add(user)
    sync_user(session, user, now=now)


# ---- API keys -----------------------------------------------------------------------------


def api_keys(session: Session, business_id: int) -> list[ApiKey]:
    return list(
        session.exec(
            select(ApiKey)
            .where(col(ApiKey.business_id) == business_id)
            .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.id).desc())
        )
    )


def revoke_api_key(session: Session, business_id: int, key_id: int, *, now: datetime) -> bool:
    """Revoke one of this business's keys; False when it has no such key."""
    key = session.get(ApiKey, key_id)
    if key is None or key.business_id != business_id:
        return False
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)
    return True
