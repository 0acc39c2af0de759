"""The CRM: users, accounts, contacts (with CRM-internal duplicates), opportunities, activities and the
contacts' field history (lifecycle-stage and title changes)."""

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from . import crm_schema
from ._output import Truth
from ._people import Account, Person, World, derive_rng
from ._reference import ACTIVITY_SUBJECTS
from ._time import DAY, Window
from ._variants import (
    CRM_DUPLICATE_EMAIL,
    CRM_DUPLICATE_NAME,
    CRM_EMAIL,
    CRM_NAME,
    CRM_PHONE,
    EmailStyle,
    render_email,
    render_name,
    render_phone,
    render_title,
    vary_email,
)

DUPLICATE_SHARE = 0.031
_PLACEHOLDER_EMAILS = ("noemail@noemail.com", "na@na.com", "unknown@unknown.com")
_OPEN_STAGES = (("discovery", 30), ("demo", 25), ("proposal", 25), ("contract_review", 20))
_ACTIVITY_TYPES = {
    "prospect": (("call", 35), ("email", 45), ("note", 15), ("meeting", 5)),
    "pipeline": (("call", 30), ("email", 30), ("note", 15), ("meeting", 25)),
    "customer": (("call", 25), ("email", 35), ("note", 15), ("meeting", 25)),
    "churned": (("call", 30), ("email", 40), ("note", 20), ("meeting", 10)),
}
LIFECYCLE_STAGES = ("lead", "mql", "sql", "opportunity", "customer", "churned")
TITLE_CHANGE_SHARE = 0.06


@dataclass(eq=False)
class Contact:
    """One CRM contact row (a person may have two: a CRM duplicate)."""

    person: Person
    is_duplicate: bool
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    title: str | None
    account: Account | None
    region: str | None
    owner_user_id: int
    lifecycle_stage: str
    created_at: datetime
    updated_at: datetime
    contact_id: int = 0


@dataclass
class Crm:
    """All CRM tables as rows ready to insert, plus the contacts for other sources to consult."""

    contacts: list[Contact]
    tables: dict[str, list[dict]]


def build_crm(world: World, truth: Truth) -> Crm:
    """Render the CRM from the world and record each contact's person in the ground truth.

    Args:
        world: The sample world.
        truth: Ground truth to add ``crm_contacts`` rows to.

    Returns:
        Rows of every CRM table, ids assigned in creation order.
    """
    rng = derive_rng(world.seed, "crm")
    for account_id, account in enumerate(
        sorted(world.accounts, key=lambda a: (a.created_at, a.index)), start=1
    ):
        account.account_id = account_id
    contacts = [_contact(rng, world, person) for person in world.people if person.in_crm]
    originals = [c for c in contacts if not c.person.is_namesake]
    for original in rng.sample(originals, round(len(contacts) * DUPLICATE_SHARE)):
        contacts.append(_duplicate(rng, world, original))
    contacts.sort(key=lambda c: (c.created_at, c.person.index, c.is_duplicate))
    for contact_id, contact in enumerate(contacts, start=1):
        contact.contact_id = contact_id
        truth.add("crm_contacts", contact_id, contact.person)
    primary = {
        c.person.account.index: c.contact_id for c in contacts if c.person.is_primary and not c.is_duplicate
    }
    opportunities = _opportunities(rng, world, primary)
    activities = _activities(rng, world, contacts)
    # A stream of its own, so adding the history left every other table's rows as they were.
    history = _contact_history(derive_rng(world.seed, "crm_history"), world, contacts, opportunities)
    tables = {
        "users": [
            {
                "user_id": u.user_id,
                "full_name": u.full_name,
                "email": u.email,
                "team": u.team,
                "created_at": u.created_at,
                "updated_at": u.updated_at,
            }
            for u in world.users
        ],
        "accounts": [
            {
                "account_id": a.account_id,
                "name": a.name,
                "domain": a.domain if rng.random() > 0.04 else None,
                "industry": a.industry if rng.random() > 0.06 else None,
                "region": a.region,
                "country": a.country.code,
                "owner_user_id": a.owner_user_id,
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            }
            for a in sorted(world.accounts, key=lambda a: a.account_id)
        ],
        "contacts": [
            {
                "contact_id": c.contact_id,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "email": c.email,
                "phone": c.phone,
                "title": c.title,
                "account_id": c.account.account_id if c.account else None,
                "region": c.region,
                "owner_user_id": c.owner_user_id,
                "lifecycle_stage": c.lifecycle_stage,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            }
            for c in contacts
        ],
        "opportunities": opportunities,
        "activities": activities,
        "contact_history": history,
    }
    return Crm(contacts=contacts, tables=tables)


def _blank(value: str) -> str | None:
    return value or None


def _contact(rng: random.Random, world: World, person: Person) -> Contact:
    account, window = person.account, world.window
    name = render_name(rng, person, CRM_NAME)
    if rng.random() < 0.006:
        email = rng.choice(_PLACEHOLDER_EMAILS)
    else:
        email = render_email(rng, person, CRM_EMAIL, world.emails)
    created = updated = person.crm_created_at
    if person.lifecycle in {"customer", "churned"}:
        updated = max(updated, account.close_at)
    if person.lifecycle == "churned":
        updated = max(updated, account.churn_at)
    if rng.random() < 0.5:
        updated = window.uniform(rng, updated, window.last)
    owner = account.owner_user_id
    if rng.random() < 0.1:
        owner = rng.choice([u.user_id for u in world.users if u.team == "sales"])
    return Contact(
        person=person,
        is_duplicate=False,
        first_name=_blank(name.first),
        last_name=_blank(name.last),
        email=_blank(email),
        phone=_blank(render_phone(rng, person, CRM_PHONE, 0.15)),
        title=_blank(render_title(rng, person, 0.2, 0.1)),
        account=account if person.is_primary or rng.random() > 0.03 else None,
        region=account.region if rng.random() > 0.05 else None,
        owner_user_id=owner,
        lifecycle_stage=person.lifecycle,
        created_at=created,
        updated_at=updated,
    )


def _duplicate(rng: random.Random, world: World, original: Contact) -> Contact:
    """A second contact for the same person, as a rep or an import creates it months later."""
    person, window = original.person, world.window
    name = render_name(rng, person, CRM_DUPLICATE_NAME)
    email = render_email(rng, person, CRM_DUPLICATE_EMAIL, world.emails)
    phone = render_phone(rng, person, CRM_PHONE, 0.3)
    if (name.first, name.last, email, phone) == (
        original.first_name or "",
        original.last_name or "",
        original.email or "",
        original.phone or "",
    ):
        email = vary_email(rng, person, person.work_email, EmailStyle(plus=1.0), world.emails)
    created = window.working(
        rng,
        original.created_at + timedelta(days=3),
        original.created_at + timedelta(days=200),
        person.country.utc_offset,
    )
    return Contact(
        person=person,
        is_duplicate=True,
        first_name=_blank(name.first),
        last_name=_blank(name.last),
        email=_blank(email),
        phone=_blank(phone),
        title=_blank(render_title(rng, person, 0.4, 0.3)),
        account=original.account if rng.random() < 0.8 else None,
        region=original.region,
        owner_user_id=rng.choice([u.user_id for u in world.users if u.team == "sales"]),
        lifecycle_stage="lead" if rng.random() < 0.5 else original.lifecycle_stage,
        created_at=created,
        updated_at=window.uniform(rng, created, window.last) if rng.random() < 0.3 else created,
    )


def _opportunity(
    account: Account,
    contact_id: int | None,
    name: str,
    stage: str,
    amount: float,
    created: datetime,
    stage_entered: datetime,
    close_date: date,
    renewal: date | None,
    updated: datetime,
) -> dict:
    return {
        "account_id": account.account_id,
        "primary_contact_id": contact_id,
        "name": name,
        "stage": stage,
        "amount": amount,
        "stage_entered_at": stage_entered,
        "close_date": close_date,
        "contract_renewal_date": renewal,
        "created_at": created,
        "updated_at": max(updated, stage_entered),
    }


def _opportunities(rng: random.Random, world: World, primary: dict[int, int]) -> list[dict]:
    window = world.window
    rows = []
    for account in world.accounts:
        contact_id = primary.get(account.index)
        offset = account.country.utc_offset
        created = window.working(rng, account.sales_start, account.sales_start + timedelta(days=5), offset)
        if account.status in {"customer", "churned"}:
            created = min(created, account.close_at - DAY)
            renewal = (account.close_at + timedelta(days=account.term_days)).date()
            label = "Pilot" if account.term_days < 365 else "New Business"
            rows.append(
                _opportunity(
                    account,
                    contact_id,
                    f"{account.base} - {label}",
                    "closed_won",
                    account.arr if account.term_days == 365 else round(account.arr / 2, -2),
                    created,
                    account.close_at,
                    account.close_at.date(),
                    renewal,
                    account.close_at,
                )
            )
            rows.extend(_renewal(rng, window, account, contact_id, renewal))
            if account.status == "customer" and rng.random() < 0.2:
                opened = window.working(rng, account.close_at + timedelta(days=30), window.last, offset)
                if opened < window.last - DAY:
                    rows.append(
                        _opportunity(
                            account,
                            contact_id,
                            f"{account.base} - Expansion",
                            rng.choice(("demo", "proposal", "contract_review")),
                            round(account.arr * rng.uniform(0.2, 0.5), -2),
                            opened,
                            window.uniform(rng, opened, window.last),
                            (opened + timedelta(days=rng.randrange(30, 120))).date(),
                            None,
                            opened,
                        )
                    )
        elif account.status == "pipeline":
            created = account.opp_created_at
            stage = rng.choices([s for s, _ in _OPEN_STAGES], [w for _, w in _OPEN_STAGES])[0]
            entered = window.uniform(rng, created, min(window.last, created + timedelta(days=45)))
            rows.append(
                _opportunity(
                    account,
                    contact_id,
                    f"{account.base} - New Business",
                    stage,
                    account.arr,
                    created,
                    entered,
                    (created + timedelta(days=rng.randrange(30, 120))).date(),
                    None,
                    window.uniform(rng, entered, window.last),
                )
            )
        elif rng.random() < 0.15 and created < window.last - timedelta(days=10):
            lost = window.working(rng, created + timedelta(days=20), created + timedelta(days=90), offset)
            rows.append(
                _opportunity(
                    account,
                    contact_id,
                    f"{account.base} - New Business",
                    "closed_lost",
                    account.arr,
                    created,
                    lost,
                    lost.date(),
                    None,
                    lost,
                )
            )
    rows.sort(key=lambda r: (r["created_at"], r["account_id"], r["name"]))
    for opportunity_id, row in enumerate(rows, start=1):
        rows[opportunity_id - 1] = {"opportunity_id": opportunity_id, **row}
    return rows


def _renewal(
    rng: random.Random, window: Window, account: Account, contact_id: int | None, renewal: date
) -> list[dict]:
    """The renewal deal of a contract whose term already ended inside the window."""
    due = datetime.combine(renewal, datetime.min.time()) + timedelta(hours=15)
    if due >= window.end:
        return []
    opened = window.clamp(due - timedelta(days=45))
    name = f"{account.base} - Renewal {renewal.year}"
    if account.status == "churned":
        lost = window.clamp(due + timedelta(days=rng.randrange(0, 5)))
        return [
            _opportunity(
                account, contact_id, name, "closed_lost", account.arr, opened, lost, renewal, None, lost
            )
        ]
    if account.renewal_outcome == "renewed":
        won = window.clamp(due - timedelta(days=rng.randrange(0, 10)))
        next_renewal = renewal + timedelta(days=365)
        return [
            _opportunity(
                account,
                contact_id,
                name,
                "closed_won",
                account.arr,
                opened,
                won,
                won.date(),
                next_renewal,
                won,
            )
        ]
    entered = window.clamp(due - timedelta(days=10))
    return [
        _opportunity(
            account, contact_id, name, "contract_review", account.arr, opened, entered, renewal, None, entered
        )
    ]


def _activities(rng: random.Random, world: World, contacts: list[Contact]) -> list[dict]:
    window = world.window
    by_account: dict[int, list[Contact]] = {}
    for contact in contacts:
        if contact.account is not None:
            by_account.setdefault(contact.account.index, []).append(contact)
    users_by_team: dict[str, list[int]] = {}
    for user in world.users:
        users_by_team.setdefault(user.team, []).append(user.user_id)
    rows = []
    for account in world.accounts:
        members = by_account.get(account.index, [])
        created_times = [c.created_at for c in members]
        start = account.created_at
        stop = window.end
        if account.churn_at:
            stop = min(stop, account.churn_at + timedelta(days=21))
        per_day = account.touches_per_week / 7
        kinds = _ACTIVITY_TYPES[account.status]
        subjects = ACTIVITY_SUBJECTS[account.status]
        moment = start
        while True:
            moment += timedelta(days=rng.expovariate(per_day))
            if moment >= stop:
                break
            occurred = window.working(rng, moment, moment + DAY, account.country.utc_offset)
            kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
            known = bisect.bisect_right(created_times, occurred)
            contact = rng.choice(members[:known]) if known and rng.random() < 0.9 else None
            if rng.random() < 0.85:
                owner = account.owner_user_id
            else:
                owner = rng.choice(users_by_team["support" if account.status == "customer" else "sales"])
            duration = None
            if kind == "call":
                duration = rng.randrange(60, 1800)
            elif kind == "meeting":
                duration = rng.choice((900, 1800, 2700, 3600))
            logged = min(window.last, occurred + timedelta(seconds=(duration or 0) + rng.randrange(0, 7200)))
            rows.append(
                {
                    "contact_id": contact.contact_id if contact else None,
                    "account_id": account.account_id,
                    "owner_user_id": owner,
                    "activity_type": kind,
                    "subject": rng.choice(subjects),
                    "occurred_at": occurred,
                    "duration_sec": duration,
                    "created_at": logged,
                    "updated_at": logged,
                }
            )
    rows.sort(key=lambda r: (r["occurred_at"], r["account_id"], r["activity_type"], r["subject"]))
    return [{"activity_id": i, **row} for i, row in enumerate(rows, start=1)]


def _contact_history(
    rng: random.Random, world: World, contacts: list[Contact], opportunities: list[dict]
) -> list[dict]:
    """The field-history log of the contacts: every lifecycle-stage change and some title changes.

    Each contact's lifecycle runs from the stage it was created at to its current one. Stages with a
    dated event take its date (a primary contact's first deal created -> opportunity, the account's
    close -> customer, its churn -> churned); the others fall between their neighbours. Primary
    contacts walk every stage; their colleagues at a customer go from lead straight to customer.
    """
    first_deal: dict[int, datetime] = {}
    for row in opportunities:
        contact_id = row["primary_contact_id"]
        if contact_id is not None:
            first_deal[contact_id] = min(first_deal.get(contact_id, row["created_at"]), row["created_at"])
    rows = []
    for contact in contacts:
        changes = _lifecycle_changes(rng, world.window, contact, first_deal.get(contact.contact_id))
        for old, (stage, moment) in zip([None, *[s for s, _ in changes]], changes, strict=False):
            rows.append(_change(contact, "lifecycle_stage", old, stage, moment))
        if (
            not contact.is_duplicate
            and contact.title
            and contact.updated_at - contact.created_at > timedelta(days=7)
            and rng.random() < TITLE_CHANGE_SHARE
        ):
            previous = rng.choice([p.title for p in world.people if p.title != contact.title])
            moment = world.window.uniform(rng, contact.created_at + DAY, contact.updated_at)
            rows.append(_change(contact, "title", previous, contact.title, moment))
    rows.sort(key=lambda r: (r["changed_at"], r["contact_id"], r["field"], r["new_value"] or ""))
    return [{"history_id": i, **row} for i, row in enumerate(rows, start=1)]


def _change(contact: Contact, field: str, old: str | None, new: str | None, moment: datetime) -> dict:
    return {
        "contact_id": contact.contact_id,
        "field": field,
        "old_value": old,
        "new_value": new,
        "changed_at": moment,
    }


def _lifecycle_changes(
    rng: random.Random, window: Window, contact: Contact, first_deal_at: datetime | None
) -> list[tuple[str, datetime]]:
    final = contact.lifecycle_stage
    account, person = contact.person.account, contact.person
    anchors = {"opportunity": first_deal_at, "customer": account.close_at, "churned": account.churn_at}
    won = final in {"customer", "churned"}
    if contact.is_duplicate or (won and contact.created_at >= account.close_at):
        start = final if contact.is_duplicate else "customer"
    elif not won and contact.updated_at - contact.created_at < DAY:
        # Never touched since it was created: it was created at the stage it holds (an import, a hot lead).
        start = final
    else:
        start = "lead"
    path = list(LIFECYCLE_STAGES[LIFECYCLE_STAGES.index(start) : LIFECYCLE_STAGES.index(final) + 1])
    if won and not person.is_primary:
        path = [s for s in path if s in {start, "customer", "churned"}]
    changes = [(path[0], contact.created_at)]
    for position, stage in enumerate(path[1:], start=1):
        previous = changes[-1][1]
        anchor = anchors.get(stage)
        if anchor is None:
            later = [anchors.get(s) for s in path[position + 1 :] if anchors.get(s)]
            bound = later[0] if later else contact.updated_at
            anchor = previous + (max(bound, previous) - previous) * rng.uniform(0.1, 0.6)
        changes.append((stage, window.clamp(max(anchor, previous)).replace(microsecond=0)))
    return changes


def write_crm(path: Path, crm: Crm) -> dict[str, int]:
    """Create the CRM SQLite database at ``path``, replacing any existing file.

    Args:
        path: The ``crm.sqlite`` file.
        crm: The rows.

    Returns:
        Row count per table.
    """
    for stale in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        stale.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        crm_schema.metadata.create_all(engine)
        with engine.begin() as conn:
            for table in crm_schema.metadata.sorted_tables:
                rows = crm.tables[table.name]
                if rows:
                    conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
    return {name: len(rows) for name, rows in crm.tables.items()}
