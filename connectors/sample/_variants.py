"""How one person looks in one source record: the realistic variations of names, emails, phones.

Each source has a style: the probability of each variation. Most records are clean; a minority
carry a nickname, a typo, swapped names, another address or phone format, or a missing field.
"""

import random
from dataclasses import dataclass

from unidecode import unidecode

from ._people import Account, EmailRegistry, Person
from ._reference import DOMAIN_TYPOS

_KEYBOARD_NEIGHBOURS = {
    "a": "sqz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "y": "tu",
    "z": "x",
}
_PLUS_TAGS = ("news", "crm", "webinar", "events", "demo", "work", "cdp", "trial")


@dataclass(frozen=True)
class NameStyle:
    """Probabilities of name variations in one source."""

    nickname: float = 0.0
    native: float = 0.0
    family_first: float = 0.0
    transpose: float = 0.0
    typo: float = 0.0
    fold_accents: float = 0.0
    lower: float = 0.0
    upper_last: float = 0.0
    first_only: float = 0.0
    missing_first: float = 0.0
    missing_last: float = 0.0
    drop_second_surname: float = 0.0


@dataclass(frozen=True)
class EmailStyle:
    """Probabilities of email variations in one source."""

    personal: float = 0.0
    plus: float = 0.0
    case: float = 0.0
    typo: float = 0.0
    missing: float = 0.0


@dataclass(frozen=True)
class RenderedName:
    """A name as one record writes it."""

    first: str
    last: str
    full: str


def typo(rng: random.Random, word: str) -> str:
    """Return ``word`` with one keyboard slip: a neighbour key, a dropped, doubled or swapped letter."""
    letters = [i for i, c in enumerate(word) if c.isascii() and c.isalpha()]
    if len(letters) < 4:
        return word
    i = rng.choice(letters[1:])
    op = rng.randrange(4)
    c = word[i]
    if op == 0 and c.lower() in _KEYBOARD_NEIGHBOURS:
        slip = rng.choice(_KEYBOARD_NEIGHBOURS[c.lower()])
        return word[:i] + (slip.upper() if c.isupper() else slip) + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    if op == 2:
        return word[:i] + c + word[i:]
    if i + 1 < len(word) and word[i + 1] != c:
        return word[:i] + word[i + 1] + c + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def render_name(rng: random.Random, person: Person, style: NameStyle) -> RenderedName:
    """Render the person's name as a source with ``style`` would write it.

    Args:
        rng: Random source.
        person: Whose name.
        style: The source's variation probabilities.

    Returns:
        First, last and full name (any may be empty).
    """
    if person.uses_native_script and rng.random() < style.native:
        first, last = person.native_first or "", person.native_last or ""
        separator = " " if person.culture == "ja" and rng.random() < 0.5 else ""
        return RenderedName(first, last, f"{last}{separator}{first}")
    first = person.nickname if person.goes_by_nickname and rng.random() < style.nickname else person.first
    last = person.last
    if " " in last and rng.random() < style.drop_second_surname:
        last = last.split(" ")[0]
    if rng.random() < style.fold_accents:
        first, last = unidecode(first), unidecode(last)
    if rng.random() < style.typo:
        if rng.random() < 0.5:
            first = typo(rng, first)
        else:
            last = typo(rng, last)
    if rng.random() < style.upper_last:
        last = last.upper()
    if rng.random() < style.lower:
        first, last = first.lower(), last.lower()
    family_first = person.uses_native_script and rng.random() < style.family_first
    if family_first or rng.random() < style.transpose:
        first, last = last, first
    roll = rng.random()
    if roll < style.first_only:
        return RenderedName(first, "", first)
    if roll < style.first_only + style.missing_first:
        return RenderedName("", last, last)
    if roll < style.first_only + style.missing_first + style.missing_last:
        return RenderedName(first, "", first)
    return RenderedName(first, last, f"{first} {last}")


def render_email(rng: random.Random, person: Person, style: EmailStyle, registry: EmailRegistry) -> str:
    """Render the email address a source with ``style`` holds for the person ("" when missing).

    Args:
        rng: Random source.
        person: Whose address.
        style: The source's variation probabilities.
        registry: Addresses already handed out; a typo never lands on someone else's address.

    Returns:
        The address as written.
    """
    if rng.random() < style.missing:
        return ""
    personal = person.personal_email is not None and rng.random() < style.personal
    address = person.personal_email if personal else person.work_email
    return vary_email(rng, person, address, style, registry)


def vary_email(
    rng: random.Random, person: Person, address: str, style: EmailStyle, registry: EmailRegistry
) -> str:
    """Apply plus-addressing, case and typo variations to one of the person's addresses."""
    local, domain = address.split("@")
    if rng.random() < style.plus and not local.isdigit():
        local = f"{local}+{rng.choice(_PLUS_TAGS)}"
    if rng.random() < style.typo:
        if domain in DOMAIN_TYPOS and rng.random() < 0.6:
            slipped = f"{local}@{rng.choice(DOMAIN_TYPOS[domain])}"
        else:
            slipped = f"{typo(rng, local)}@{domain}"
        if registry.claim(slipped, person.index):
            local, domain = slipped.split("@")
    if rng.random() < style.case:
        roll = rng.random()
        if roll < 0.6:
            local = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
        elif roll < 0.85:
            domain = domain.upper()
        else:
            local, domain = local.upper(), domain.upper()
    return f"{local}@{domain}"


def render_phone(rng: random.Random, person: Person, formats: dict[str, float], missing: float) -> str:
    """Render the person's phone in one of ``formats`` (weights), or "" with probability ``missing``."""
    if rng.random() < missing:
        return ""
    name = rng.choices(list(formats), list(formats.values()))[0]
    return person.phones[name]


def render_company(rng: random.Random, account: Account, native: float, missing: float) -> str:
    """Render a company name: legal name, long legal form, upper case, bare name, or native script.

    Args:
        rng: Random source.
        account: Which company.
        native: Probability of the native-script name, where the company has one.
        missing: Probability of an empty field.

    Returns:
        The company as written.
    """
    if rng.random() < missing:
        return ""
    if account.native_name and rng.random() < native:
        return account.native_name
    roll = rng.random()
    short, long = account.legal
    if roll < 0.6:
        return account.name
    if roll < 0.78:
        return account.base
    if roll < 0.86:
        return f"{account.base} {long}"
    if roll < 0.93:
        return f"{account.base.upper()} {long}"
    if roll < 0.97:
        return account.base.lower()
    return f"{account.base}, {short}"


def render_title(rng: random.Random, person: Person, variant: float, missing: float) -> str:
    """Render the job title: canonical, a variant wording, or "" with probability ``missing``."""
    if rng.random() < missing:
        return ""
    if rng.random() < variant:
        return rng.choice(person.title_variants)
    return person.title


CRM_NAME = NameStyle(
    nickname=0.15, native=0.04, transpose=0.01, typo=0.015, fold_accents=0.05, missing_first=0.01
)
CRM_EMAIL = EmailStyle(personal=0.07, case=0.04, typo=0.005, missing=0.03)
CRM_PHONE = {"national": 45, "e164": 20, "international": 25, "compact": 10}
CRM_DUPLICATE_NAME = NameStyle(nickname=0.6, typo=0.15, fold_accents=0.2, transpose=0.05, native=0.2)
CRM_DUPLICATE_EMAIL = EmailStyle(personal=0.5, plus=0.3, case=0.2, missing=0.1)

FORM_NAME = NameStyle(
    nickname=0.5,
    native=0.2,
    family_first=0.15,
    transpose=0.02,
    typo=0.02,
    fold_accents=0.2,
    lower=0.04,
    missing_last=0.01,
    drop_second_surname=0.4,
)
FORM_EMAIL = EmailStyle(personal=0.2, plus=0.06, case=0.05, typo=0.01)
FORM_PHONE = {"national": 45, "e164": 15, "international": 20, "compact": 20}

VIDEO_NAME = NameStyle(nickname=0.6, native=0.3, family_first=0.2, typo=0.03, lower=0.15, first_only=0.05)
VIDEO_EMAIL = EmailStyle(personal=0.5, plus=0.03, case=0.02, typo=0.015, missing=0.05)

HOTLINE_NAME = NameStyle(
    nickname=0.5,
    native=0.3,
    family_first=0.2,
    transpose=0.03,
    typo=0.1,
    fold_accents=0.5,
    first_only=0.2,
    missing_first=0.05,
    drop_second_surname=0.6,
)

BADGE_NAME = NameStyle(
    nickname=0.4,
    native=0.5,
    family_first=0.25,
    transpose=0.02,
    typo=0.01,
    upper_last=0.2,
    drop_second_surname=0.3,
)
BADGE_EMAIL = EmailStyle(personal=0.15, case=0.1, typo=0.005)

TICKET_NAME = NameStyle(
    nickname=0.4,
    native=0.2,
    family_first=0.1,
    transpose=0.01,
    typo=0.02,
    fold_accents=0.15,
    lower=0.03,
    first_only=0.05,
    missing_first=0.02,
    drop_second_surname=0.3,
)
TICKET_EMAIL = EmailStyle(personal=0.07, plus=0.02, case=0.03, missing=0.03)
TICKET_PHONE = {"national": 40, "e164": 35, "international": 15, "compact": 10}

APP_NAME = NameStyle(nickname=0.5, native=0.1, fold_accents=0.1, lower=0.02, drop_second_surname=0.3)
SURVEY_EMAIL = EmailStyle(case=0.05, personal=0.05)
