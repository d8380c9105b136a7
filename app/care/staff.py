"""The business's staff list: the names offered in the visit form and counted on the
dashboard, each with or without a sign-in. Names are unique per business whatever their case.

The one rule for a name typed anywhere a visit is recorded (the API, the visit form, a CSV
row, the CLI): `staff_named` matches it case-insensitively to the list ("ana" is Ana) or adds
it as someone without a sign-in. Nothing here commits (the request or job does).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.care import figures
from app.contract import parse
from app.contract.commands import StaffSave
from app.contract.rules import fold
from app.db import add_unless_taken
from app.errors import Invalid, NotFound, Refused
from app.models import Business, Feedback, StaffMember, User, Visit


def name_key(name: str) -> str:
    """What two spellings of one name share: "ana", "Ana " and "ANA" are one person."""
    return fold(name).casefold()


def staff_list(session: Session, business_id: int, *, active_only: bool = False):
    """The business's staff, active first, by name."""
    query = select(StaffMember).where(col(StaffMember.business_id) == business_id)
    if active_only:
        query = query.where(col(StaffMember.active).is_(True))
    order = (col(StaffMember.active).desc(), col(StaffMember.name_key), col(StaffMember.id))
    return list(session.exec(query.order_by(*order)))


def staff_member(session: Session, business_id: int, staff_id: int) -> StaffMember:
    """One of this business's staff; NotFound for another business's id."""
    member = session.get(StaffMember, staff_id)
    if member is None or member.business_id != business_id:
        raise NotFound("No such staff member.")
    return member


def find_staff(session: Session, business_id: int, name: str) -> StaffMember | None:
    return session.exec(
        select(StaffMember).where(
            col(StaffMember.business_id) == business_id,
            col(StaffMember.name_key) == name_key(name),
        )
    ).first()


def staff_named(
    session: Session, business: Business, name: str, *, now: datetime
) -> tuple[StaffMember, bool]:
    """The staff member with this name in any case, added (active, no sign-in) when the list
    has none. Returns (member, added). An inactive member is matched, and stays inactive:
    a visit from last month may name someone who has left."""
    name = fold(name)
    found = find_staff(session, business.id, name)
    if found is not None:
        return found, False
    member = StaffMember(business_id=business.id, name=name, name_key=name_key(name),
                         created_at=now)  # fmt: skip
    # (another visit may have added the same name a moment ago: then it is that one)
    return add_unless_taken(session, member, lambda: find_staff(session, business.id, name))


def staff_for_visit(
    session: Session, business: Business, name: str | None, *, now: datetime
) -> str | None:
    """The list's own spelling of the name a visit was recorded with (None for no one)."""
    if not name or not fold(name):
        return None
    return staff_named(session, business, name, now=now)[0].name


def add_staff(session: Session, business: Business, name: str, *, now: datetime) -> StaffMember:
    """The owner adds someone to the list; Invalid when the name is bad or already there."""
    command = parse(StaffSave, {"name": name or ""})
    member, added = staff_named(session, business, command.name, now=now)
    if not added:
        raise Invalid("name", f"{member.name} is already on the list.")
    return member


def rename_staff(session: Session, business: Business, staff_id: int, name: str) -> StaffMember:
    """Rename someone without a sign-in (those who sign in change their name themselves);
    their visits and ratings move to the new name, so the dashboard follows them."""
    member = staff_member(session, business.id, staff_id)
    if member.user_id is not None:
        raise Refused("signs_in", f"{member.name} signs in: they change their name on their "
                      "own account page.", field="name")  # fmt: skip
    command = parse(StaffSave, {"name": name or ""})
    _rename(session, member, command.name)
    return member


def _rename(session: Session, member: StaffMember, name: str) -> None:
    taken = find_staff(session, member.business_id, name)
    if taken is not None and taken.id != member.id:
        raise Invalid("name", f"{taken.name} is already on the list.")
    old = member.name
    member.name, member.name_key = name, name_key(name)
    session.add(member)
    if old != name:
        figures.touch_all(session, member.business_id)  # (the bulk UPDATEs pass no hook)
        for table in (Visit, Feedback):
            session.execute(
                update(table)
                .where(col(table.business_id) == member.business_id,
                       func.lower(col(table.staff)) == old.lower())
                .values(staff=name)
            )  # fmt: skip


def set_staff_active(session: Session, business: Business, staff_id: int, active: bool):
    """Offer someone in the visit form again, or stop offering them (their visits stay)."""
    member = staff_member(session, business.id, staff_id)
    member.active = active
    session.add(member)
    return member


def sync_user(session: Session, user: User, *, now: datetime) -> None:
    """A team member with a name is on the list, linked to their sign-in: their entry follows
    their name, or takes over an entry of that name without a sign-in."""
    name = fold(user.name or "")
    if not name:
        return
    mine = own_entry(session, user)
    same = find_staff(session, user.business_id, name)
    if mine is not None and (same is None or same.id == mine.id):
        _rename(session, mine, name)
        return
    if same is not None and same.user_id is not None:
        if mine is not None:  # someone else signs in with this name: no second entry
            mine.user_id = None
            session.add(mine)
        return
    if mine is not None:
        mine.user_id = None  # their old name stays on the list, without a sign-in
        session.add(mine)
        session.flush()
    if same is None:
        same = StaffMember(business_id=user.business_id, name=name, name_key=name_key(name),
                           created_at=now)  # fmt: skip
    same.user_id, same.name = user.id, name
    session.add(same)
    session.flush()


def own_entry(session: Session, user: User) -> StaffMember | None:
    """The list's entry of a team member who signs in."""
    return session.exec(select(StaffMember).where(col(StaffMember.user_id) == user.id)).first()


def canonical_names(session: Session, business_id: int) -> Callable[[str | None], str]:
    """For the dashboard: a name as recorded -> the list's spelling ("ana" counts as Ana).
    A name the list does not hold (older data) takes the first spelling seen of it."""
    spelling = {
        key: name
        for name, key in session.exec(
            select(StaffMember.name, StaffMember.name_key).where(
                col(StaffMember.business_id) == business_id
            )
        )
    }

    def canonical(name: str | None) -> str:
        if not name:
            return ""
        return spelling.setdefault(name_key(name), fold(name))

    return canonical
