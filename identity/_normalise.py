"""Standardise person records into the columns the matching model compares.

Each function works on unique values (a source repeats the same email or phone many times), so the
cost grows with distinct values, not rows.
"""

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from itertools import combinations

import pandas as pd
import phonenumbers
import yaml
from unidecode import unidecode

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_LETTER = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\D+")
_LEGAL_SUFFIXES = {
    "ag",
    "bv",
    "co",
    "company",
    "corp",
    "corporation",
    "gmbh",
    "inc",
    "incorporated",
    "kg",
    "kk",
    "limited",
    "llc",
    "llp",
    "ltd",
    "nv",
    "oy",
    "plc",
    "pte",
    "pty",
    "sa",
    "sarl",
    "sas",
    "spa",
    "srl",
    "the",
    "ab",
    "aktiengesellschaft",
    "as",
    "cv",
    "de",
    "gesellschaft",
    "kabushiki",
    "kaisha",
    "limitada",
    "ltda",
    "se",
    "group",
    "pvt",
    "private",
    "sl",
}
_LETTER_RUN = re.compile(r"\b[a-z](?: [a-z]\b)+")
# Plus-addressing is honoured by these providers and by most company mail servers; dots in the
# local part are ignored only by Gmail.
_DOT_INSENSITIVE_DOMAINS = {"gmail.com", "googlemail.com"}


@cache
def _guards() -> dict:
    text = resources.files("identity").joinpath("guards.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def _nicknames() -> dict[str, str]:
    text = resources.files("identity").joinpath("nicknames.yaml").read_text(encoding="utf-8")
    canonical: dict[str, str] = {}
    for name, variants in yaml.safe_load(text).items():
        for variant in variants:
            canonical[variant] = name
    return canonical


def _on_unique(series: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    values = series.dropna().unique()
    mapping = {value: fn(value) for value in values}
    return series.map(mapping).astype("string")


def normalise_email(value: str) -> str | None:
    """Lower-case, trim, drop plus-tags (and Gmail dots); None for blocked or malformed addresses.

    Args:
        value: An email address as a source wrote it.

    Returns:
        The normalised address, or None when it must not be used to match people.
    """
    email = value.strip().lower()
    if email.count("@") != 1:
        return None
    local, domain = email.split("@")
    local = local.split("+", 1)[0]
    if domain in _DOT_INSENSITIVE_DOMAINS:
        local = local.replace(".", "")
    if not local or "." not in domain:
        return None
    guards = _guards()
    email = f"{local}@{domain}"
    if email in guards["blocked_emails"] or local in guards["shared_mailbox_local_parts"]:
        return None
    if domain in guards["blocked_email_domains"]:
        return None
    return email


def normalise_phone(value: str, region: str | None = None) -> str | None:
    """Return the E.164 form of a phone number, or None if it is not a valid number.

    Args:
        value: The number as written (national or international format).
        region: ISO country code used to read a national-format number.

    Returns:
        E.164 text such as ``+14155550134``, or None.
    """
    try:
        parsed = phonenumbers.parse(value, (region or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None if e164 in _guards()["blocked_phones"] else e164


def phone_tail(value: str) -> str | None:
    """Return the last eight digits of a number, which agree whatever format or prefix was used.

    Args:
        value: The number as written.

    Returns:
        Eight digits, or None for short numbers and placeholders like 00000000.
    """
    digits = _DIGITS.sub("", value)
    if len(digits) < 8:
        return None
    tail = digits[-8:]
    return None if len(set(tail)) <= 2 else tail


def normalise_name(value: str) -> str | None:
    """Transliterate to ASCII, lower-case and keep letters and single spaces.

    Args:
        value: A name in any script.

    Returns:
        e.g. ``"zhang wei"`` for ``"Zhang  Wéi"`` or ``"张伟"`` (already split), or None if empty.
    """
    text = _SPACES.sub(" ", _NOT_LETTER.sub(" ", unidecode(value).lower())).strip()
    if not text or text in _guards()["blocked_names"]:
        return None
    return text


def split_full_name(full_name: str) -> tuple[str | None, str | None]:
    """Split a full name into (first, last).

    Chinese names written in characters put the family name first (one character, or two for
    compound surnames in four-character names); other names are read as "first ... last".

    Args:
        full_name: The name as one string.

    Returns:
        The first and last name, either possibly None.
    """
    name = full_name.strip()
    if _CJK.search(name):
        compact = name.replace(" ", "")
        family_len = 2 if len(compact) >= 4 else 1
        return compact[family_len:] or None, compact[:family_len]
    parts = name.split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0], None
    return parts[0], parts[-1]


def canonical_first_name(name: str) -> str:
    """Map a nickname to its formal first name (bob → robert); other names unchanged.

    Args:
        name: A normalised first name.

    Returns:
        The canonical form.
    """
    return _nicknames().get(name, name)


def normalise_company(value: str) -> str | None:
    """Transliterate, lower-case, and drop punctuation and legal suffixes (Ltd, GmbH, Inc ...).

    Args:
        value: A company name.

    Returns:
        e.g. ``"acme"`` for ``"ACME Limited"``, or None if nothing is left.
    """
    text = _NOT_LETTER.sub(" ", unidecode(value).lower())
    # Dotted abbreviations become runs of single letters ("L.L.C." -> "l l c"); join them back.
    text = _LETTER_RUN.sub(lambda m: m.group(0).replace(" ", ""), text)
    words = [w for w in text.split() if w not in _LEGAL_SUFFIXES]
    return " ".join(words) or None


def normalise_records(records: pd.DataFrame) -> pd.DataFrame:
    """Add the matching columns to person records.

    Args:
        records: Rows with ``record_id, source, first_name, last_name, full_name, email, phone,
            company_name, country`` (any of the personal columns may be null).

    Returns:
        The model input: ``record_id, source, email_norm, email_local, email_domain, phone_e164,
        phone_tail, phone_key, first_name_norm, last_name_norm, first_name_canonical, company_norm,
        crm_contact_id``. ``phone_key`` is the phone tail of a line only one person uses: it is
        null where two records holding that number carry names no one person has (a switchboard,
        a shared desk phone), so the deterministic phone rule never joins colleagues.
    """
    frame = records.copy()
    for column in ("first_name", "last_name", "full_name", "email", "phone", "company_name", "country"):
        if column not in frame:
            frame[column] = pd.NA
        frame[column] = frame[column].astype("string")

    split = frame["full_name"].dropna().map(split_full_name)
    missing_first = frame["first_name"].isna() & frame["full_name"].notna()
    missing_last = frame["last_name"].isna() & frame["full_name"].notna()
    frame.loc[missing_first, "first_name"] = split[missing_first].map(lambda p: p[0])
    frame.loc[missing_last, "last_name"] = split[missing_last].map(lambda p: p[1])

    out = pd.DataFrame({"record_id": frame["record_id"].astype("string"), "source": frame["source"]})
    out["email_norm"] = _on_unique(frame["email"], normalise_email)
    parts = out["email_norm"].str.split("@", n=1)
    out["email_local"] = parts.str[0].astype("string")
    out["email_domain"] = parts.str[1].astype("string")
    region = frame["country"].fillna("").str.upper()
    phone_key = frame["phone"] + "|" + region
    out["phone_e164"] = _on_unique(phone_key, lambda key: normalise_phone(*key.rsplit("|", 1)))
    out["phone_tail"] = _on_unique(out["phone_e164"].fillna(frame["phone"]), phone_tail)
    out["first_name_norm"] = _on_unique(frame["first_name"], normalise_name)
    out["last_name_norm"] = _on_unique(frame["last_name"], normalise_name)
    out["first_name_canonical"] = _on_unique(out["first_name_norm"], canonical_first_name)
    out["company_norm"] = _on_unique(frame["company_name"], normalise_company)
    out["crm_contact_id"] = frame.get("crm_contact_id", pd.Series(pd.NA, index=frame.index)).astype("Int64")
    out["phone_key"] = personal_phone_key(out)
    return out


def personal_phone_key(out: pd.DataFrame) -> pd.Series:
    """Return the phone tail where every record holding it could name the same person.

    Args:
        out: Normalised records (``phone_tail``, ``first_name_canonical``, ``last_name_norm``).

    Returns:
        The ``phone_key`` column: the tail, or null on a line differently named records share.
    """
    tokens = (out["first_name_canonical"].fillna("") + " " + out["last_name_norm"].fillna("")).str.split()
    names = pd.DataFrame({"tail": out["phone_tail"], "name": tokens.map(lambda t: " ".join(sorted(set(t))))})
    names = names[names["tail"].notna() & (names["name"] != "")].drop_duplicates()
    several = names[names["tail"].duplicated(keep=False)]
    shared = {
        tail
        for tail, group in several.groupby("tail")["name"]
        if not all(_same_person_names(a, b) for a, b in combinations(group, 2))
    }
    return out["phone_tail"].where(~out["phone_tail"].isin(shared)).astype("string")


def _same_person_names(a: str, b: str) -> bool:
    """Whether two names could be one person's: each word of the shorter starts or is started by one of the longer.

    Covers a surname given alone, a truncated first name and swapped name order; two different first
    names (a switchboard's callers) do not agree.
    """
    short, long = sorted((a.split(), b.split()), key=len)
    return all(
        any(x.startswith(y) or y.startswith(x) for y in long if min(len(x), len(y)) >= 3 or x == y)
        for x in short
    )
