"""Customer service: help-desk tickets and NPS survey responses, both shaped by account health."""

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._output import Malformed, Truth
from ._people import Account, Person, World, derive_rng, pick, poisson
from ._reference import NPS_COMMENTS, TICKET_SUBJECTS
from ._time import DAY, HOUR, iso_z
from ._variants import (
    SURVEY_EMAIL,
    TICKET_EMAIL,
    TICKET_NAME,
    TICKET_PHONE,
    render_email,
    render_name,
    render_phone,
)

TICKETS_FILE = "service/tickets.csv"
NPS_FILE = "service/nps_responses.csv"
TICKET_HEADER = (
    "ticket_id",
    "created_at",
    "solved_at",
    "requester_name",
    "requester_email",
    "requester_phone",
    "subject",
    "status",
    "priority",
    "channel",
    "csat_score",
    "is_escalated",
)
NPS_HEADER = ("response_id", "responded_at", "email", "score", "comment", "survey_name")
_PRIORITIES = ("low", "normal", "high", "urgent")
_CHANNELS = (("email", 45), ("web", 30), ("chat", 15), ("phone", 10))


@dataclass(eq=False)
class Ticket:
    """One help-desk ticket."""

    person: Person
    created_at: datetime
    solved_at: datetime | None
    is_escalated: bool
    row: list


@dataclass
class Service:
    """Rows of both service files and their injected malformed rows."""

    tickets: list[list]
    nps: list[list]
    malformed: list[Malformed]


def build_service(world: World, truth: Truth, malformed_count: int) -> Service:
    """Render tickets and NPS responses, record them in the ground truth, and break a few rows.

    Args:
        world: The sample world.
        truth: Ground truth to add ``tickets`` and ``nps`` rows to.
        malformed_count: Rows to break in each file (bad ticket dates, out-of-range NPS scores).

    Returns:
        Rows of both files.
    """
    rng = derive_rng(world.seed, "service")
    tickets: list[Ticket] = []
    for account in world.accounts:
        tickets.extend(_account_tickets(rng, world, account))
    tickets.sort(key=lambda t: (t.created_at, t.person.index))
    for number, ticket in enumerate(tickets):
        ticket_id = str(20001 + number)
        ticket.row[0] = ticket_id
        truth.add("tickets", ticket_id, ticket.person)
    responses = _nps(rng, world, tickets)
    for row, person in responses:
        truth.add("nps", row[0], person)
    malformed = _break_tickets(rng, world, tickets, truth, malformed_count)
    malformed += _break_scores(rng, responses, truth, malformed_count)
    return Service(tickets=[t.row for t in tickets], nps=[row for row, _ in responses], malformed=malformed)


def _account_tickets(rng: random.Random, world: World, account: Account) -> list[Ticket]:
    window = world.window
    members = [p for p in account.people if not p.anonymous_only]
    if account.status in {"customer", "churned"}:
        start = account.close_at
        stop = min(window.end, account.churn_at + timedelta(days=30)) if account.churn_at else window.end
        months = (stop - start) / timedelta(days=30)
        count = poisson(rng, (0.25 + 0.12 * len(members)) * (0.6 + 1.8 * (1 - account.health)) * months)
    else:
        # Trial users sometimes ask for help before buying.
        members = [p for p in members if p.user_id]
        count = sum(rng.random() < 0.1 for _ in members)
        start, stop = window.start, window.end
    if not members:
        return []
    weights = [3 if p.user_id else 1 for p in members]
    tickets = []
    for person in rng.choices(members, weights, k=count):
        lo = max(start, person.first_touch_at, person.signup_at or start)
        if lo >= stop - HOUR:
            continue
        created = window.working(rng, lo, stop - HOUR, person.country.utc_offset)
        tickets.append(_ticket(rng, world, person, created))
    return tickets


def _ticket(rng: random.Random, world: World, person: Person, created: datetime) -> Ticket:
    window = world.window
    health = person.account.health
    pain = 1 - health
    subject, priority = rng.choice(TICKET_SUBJECTS)
    level = _PRIORITIES.index(priority)
    if rng.random() < 0.25 * pain:
        level = min(3, level + 1)
    elif rng.random() < 0.2:
        level = max(0, level - 1)
    priority = _PRIORITIES[level]
    channel = pick(rng, _CHANNELS)
    escalated = rng.random() < 0.02 + 0.1 * pain + (0.12 if priority == "urgent" else 0)
    hours = rng.expovariate(1 / (8 + 40 * pain)) * (2.5 if escalated else 1) + 0.2
    solved: datetime | None = created + timedelta(seconds=round(hours * 3600))
    stuck = rng.random() < 0.03 + 0.12 * pain
    csat = None
    if solved < window.end and not stuck:
        status = "closed" if solved < window.end - 4 * DAY and rng.random() < 0.7 else "solved"
        if rng.random() < 0.4:
            mean = 2.6 + 2.8 * health - (1.0 if escalated else 0) - (0.5 if hours > 72 else 0)
            csat = min(5, max(1, round(rng.gauss(mean, 0.8))))
    else:
        solved = None
        recent = window.end - created < 2 * DAY
        status = pick(
            rng, (("new", 40), ("open", 40), ("pending", 20)) if recent else (("open", 60), ("pending", 40))
        )
    name = render_name(rng, person, TICKET_NAME)
    email = render_email(rng, person, TICKET_EMAIL, world.emails)
    if channel == "phone" and rng.random() < 0.4:
        email = ""
    phone = render_phone(rng, person, TICKET_PHONE, 0.2 if channel == "phone" else 0.92)
    row = [
        "",
        iso_z(created),
        iso_z(solved) if solved else "",
        name.full,
        email,
        phone,
        subject,
        status,
        priority,
        channel,
        "" if csat is None else str(csat),
        "true" if escalated else "false",
    ]
    return Ticket(person, created, solved, escalated, row)


def _survey_dates(world: World) -> list[tuple[datetime, str]]:
    window = world.window
    surveys = []
    year = window.start.year
    for quarter_year in range(year, window.end.year + 1):
        for quarter in range(4):
            sent = datetime(quarter_year, 3 * quarter + 1, 10, 14)
            if window.start + 7 * DAY <= sent < window.end - 14 * DAY:
                surveys.append((sent, f"Customer NPS Q{quarter + 1} {quarter_year}"))
    return surveys


def _nps(rng: random.Random, world: World, tickets: list[Ticket]) -> list[tuple[list, Person]]:
    window = world.window
    by_account: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        by_account.setdefault(ticket.person.account.index, []).append(ticket)
    alphabet = string.ascii_letters + string.digits
    used: set[str] = set()
    responses: list[tuple[datetime, int, list, Person]] = []
    for sent, survey in _survey_dates(world):
        for account in world.accounts:
            if account.close_at is None or account.close_at > sent:
                continue
            if account.churn_at is not None and account.churn_at <= sent:
                continue
            recent = [t for t in by_account.get(account.index, []) if sent - 90 * DAY <= t.created_at < sent]
            pain = sum(
                1
                for t in recent
                if t.is_escalated or t.solved_at is None or t.solved_at > t.created_at + 5 * DAY
            )
            for person in account.people:
                if not (person.in_crm or person.user_id) or rng.random() >= 0.25 + 0.15 * person.engagement:
                    continue
                mean = 4.8 + 6 * account.health - 0.5 * min(pain, 4)
                score = min(10, max(0, round(rng.gauss(mean, 1.5))))
                band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
                comment = rng.choice(NPS_COMMENTS[band]) if rng.random() < 0.55 else ""
                responded = min(window.last, sent + timedelta(seconds=round(rng.expovariate(1 / 3) * 86400)))
                while True:
                    response_id = "R_" + "".join(rng.choices(alphabet, k=15))
                    if response_id not in used:
                        used.add(response_id)
                        break
                email = render_email(rng, person, SURVEY_EMAIL, world.emails)
                row = [response_id, iso_z(responded), email, str(score), comment, survey]
                responses.append((responded, person.index, row, person))
    responses.sort(key=lambda r: (r[0], r[1], r[2][0]))
    return [(row, person) for _, _, row, person in responses]


def _break_tickets(
    rng: random.Random, world: World, tickets: list[Ticket], truth: Truth, count: int
) -> list[Malformed]:
    year = world.as_of.year
    bad_dates = (
        (f"{year}-02-30T09:15:00Z", "bad date: February 30th"),
        ("31/04/2026 14:20", "bad date: not ISO 8601 (and April has 30 days)"),
        ("not a date", "bad date: not a timestamp"),
        (f"{year}-13-05T10:00:00Z", "bad date: month 13"),
        ("", "bad date: created_at is empty"),
    )
    malformed = []
    for number, index in enumerate(sorted(rng.sample(range(len(tickets)), min(count, len(tickets))))):
        value, reason = bad_dates[number % len(bad_dates)]
        row = tickets[index].row
        row[1] = value
        truth.discard("tickets", row[0])
        malformed.append(Malformed(TICKETS_FILE, index + 2, reason))
    return malformed


def _break_scores(
    rng: random.Random, responses: list[tuple[list, Person]], truth: Truth, count: int
) -> list[Malformed]:
    malformed = []
    for number, index in enumerate(sorted(rng.sample(range(len(responses)), min(count, len(responses))))):
        row = responses[index][0]
        row[3], reason = (
            ("11", "score 11 is outside 0-10") if number % 2 == 0 else ("ten", "score 'ten' is not a number")
        )
        truth.discard("nps", row[0])
        malformed.append(Malformed(NPS_FILE, index + 2, reason))
    return malformed
