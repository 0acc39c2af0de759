"""Resolve any file of person records: a column mapping in, customer assignments and pair scores out.

The pipeline's model is tuned to our own sources. This tool builds a Splink model for whatever
columns a file has: it compares only the mapped fields (the built-in ones and any extra field the
mapping declares with a comparison type), blocks only on built-in fields, trains the model by EM on
the input itself, and links records with the same email or national id outright. One file is
deduplicated; two files are linked to each other. A record is known by its input and its id, and a
customer id is derived from the smallest record key of its customer, so the same input gives the
same ids.
"""

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
import sqlglot
import yaml
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from sqlglot import exp
from unidecode import unidecode

from connectors.safe_csv import write_csv
from identity._ids import assign_customer_ids, connected_components
from identity._normalise import (
    canonical_first_name,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_tail,
    split_full_name,
)

_log = logging.getLogger(__name__)

# The built-in fields a mapping may name, each with what it means.
FIELDS: dict[str, str] = {
    "record_id": "unique id of the row in its file (default: the row number after the header, from 1)",
    "first_name": "given name",
    "last_name": "family name / surname",
    "full_name": "whole name in one column (split when first/last are not mapped)",
    "email": "email address",
    "phone": "phone number in any format",
    "date_of_birth": "date of birth (ISO 2001-02-28 preferred; other formats are parsed)",
    "address": "street address (one line)",
    "postcode": "postal / ZIP code",
    "city": "city or town",
    "national_id": "national id, passport or tax number",
    "country": "ISO country code, used to read national-format phone numbers",
}
# Built-in fields the model compares; record_id and country only support the others.
_MATCHING_FIELDS = set(FIELDS) - {"record_id", "country"}
_NAMES = frozenset({"first_name", "last_name"})
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_PLACEHOLDER_IDS = {"unknown", "none", "null", "notknown", "missing", "123456789", "1234567890"}
DETERMINISTIC_FIELDS = {"email": "same_email", "national_id": "same_national_id"}
DATASETS = ("input_left", "input_right")
_EXTRA_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Names of the work columns and Splink's own columns; an extra field must not shadow them.
_RESERVED_NAMES = {
    "uid",
    "source_dataset",
    "match_key",
    "match_weight",
    "match_probability",
    "rule",
    "is_linked",
}
_RESERVED_PREFIXES = ("mw_", "bf_", "tf_", "gamma_", "__splink")
_RESERVED_SUFFIXES = ("_l", "_r")
# Recall assumed of the exact-identifier rules when estimating how often two records match.
_PRIOR_RECALL = 0.8
_PRIOR_RULES = (("email",), ("national_id",), ("phone",), ("first_name", "last_name", "date_of_birth"))
# Fields an EM session may block on, in order of preference.
_SESSION_FIELDS = ("email", "phone", "date_of_birth", "postcode", "last_name", "first_name")
# Splink warns about these whenever an input is small or sparse, the normal case for this tool, and
# about u sampling capped at exactly 1e6 pairs, the tool's measured default (max_pairs / 2). They are
# notes about the training, not faults, so the tool logs them at INFO.
_TRAINING_NOTES = {
    "splink.internals.expectation_maximisation": "not observed in dataset",
    "splink.internals.em_sampling": "Probe returned zero blocked pairs",
    "splink.internals.linker_components.training": "default value for `max_pairs`",
}


class ToolInputError(ValueError):
    """A mapping, file or column the user gave cannot be used; the message says which and why."""


@dataclass
class ToolResult:
    """What one resolve run produced.

    Attributes:
        assignments: One row per input record: ``source_dataset, record_id, customer_id, cluster_size,
            match_probability`` (the record's strongest accepted link; 1.0 for a lone record).
        pairs: One row per scored candidate pair at or above the pair threshold, and every linked pair:
            ``source_dataset_l, record_id_l, source_dataset_r, record_id_r, match_weight,
            match_probability, rule, is_linked`` and the match weight ``mw_<comparison>`` each compared
            field contributed (deterministic-only pairs below the pair threshold have no weights).
        model: The trained Splink model (reuse it with ``model=`` to score other files alike).
        stats: Figures: records, customers, pairs, links, compared fields, whether the model was
            trained on this input, model parameters left untrained, EM sessions dropped, unreadable
            values per field, seconds per phase.
    """

    assignments: pd.DataFrame
    pairs: pd.DataFrame
    model: dict
    stats: dict


@dataclass(frozen=True)
class MappedField:
    """One field of a column mapping.

    Attributes:
        column: The input column holding the field.
        compare: How an extra field is compared (a key of ``COMPARE_TYPES``); None for a built-in
            field, which has its own normalisation and comparison.
    """

    column: str
    compare: str | None = None


def _compact(value: str) -> str | None:
    return _NOT_ALNUM.sub("", unidecode(value).lower()) or None


def _text(value: str) -> str | None:
    return _NOT_ALNUM.sub(" ", unidecode(value).lower()).strip() or None


def _on_unique(series: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    values = series.dropna().unique()
    return series.map({value: fn(value) for value in values}).astype("string")


def _iso_date(values: pd.Series) -> pd.Series:
    unique = values.dropna().unique()
    parsed = pd.to_datetime(pd.Series(unique, dtype="string"), errors="coerce", format="mixed")
    lookup = dict(zip(unique, parsed.dt.strftime("%Y-%m-%d"), strict=True))
    return values.map(lookup).astype("string")


def _numeric_comparison(column: str) -> Any:
    return cl.CustomComparison(
        [
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.AbsoluteDifferenceLevel(column, 1),
            cll.PercentageDifferenceLevel(column, 0.1),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


def _email_comparison(column: str) -> Any:
    # No "same user name at another domain" level: look-alike people share those (john.smith@).
    return cl.LevenshteinAtThresholds(column, [2])


def _date_comparison(column: str) -> Any:
    return cl.DateOfBirthComparison(column, input_is_string=True)


def _postcode_comparison(column: str) -> Any:
    return cl.LevenshteinAtThresholds(column, [1])


def _text_comparison(column: str) -> Any:
    return cl.JaroWinklerAtThresholds(column, [0.95, 0.85])


# Each built-in field but the names, with how it is compared (names: see ``_comparisons``).
_BUILT_IN_COMPARISONS: dict[str, Callable[[str], Any]] = {
    "email": _email_comparison,
    "phone": cl.ExactMatch,
    "date_of_birth": _date_comparison,
    "address": _text_comparison,
    "postcode": _postcode_comparison,
    "city": lambda column: cl.JaroWinklerAtThresholds(column, [0.92]),
    "national_id": lambda column: cl.LevenshteinAtThresholds(column, [1]),
}


@dataclass(frozen=True)
class _CompareType:
    meaning: str
    normalise: Callable[[pd.Series], pd.Series]
    comparison: Callable[[str], Any]


_COMPARE = {
    "exact": _CompareType(
        "equal once case, accents, spaces and punctuation are ignored (codes: state, gender, title)",
        lambda values: _on_unique(values, _compact),
        cl.ExactMatch,
    ),
    "name": _CompareType(
        "a name: equal, then close spellings (Jaro-Winkler 0.92, 0.88, 0.7)",
        lambda values: _on_unique(values, normalise_name),
        cl.NameComparison,
    ),
    "date": _CompareType(
        "a date in any common format: equal, one typo, within a month, a year, ten years",
        _iso_date,
        _date_comparison,
    ),
    "numeric": _CompareType(
        "a number: equal, within 1, within 10 % (values that are not numbers count as missing)",
        lambda values: pd.to_numeric(values, errors="coerce").astype("Float64"),
        _numeric_comparison,
    ),
    "postcode": _CompareType(
        "a postal code: equal or one character apart, spaces and case ignored",
        lambda values: _on_unique(values, _compact),
        _postcode_comparison,
    ),
    "text": _CompareType(
        "free text such as an address line: equal or close (Jaro-Winkler 0.95, 0.85)",
        lambda values: _on_unique(values, _text),
        _text_comparison,
    ),
}
# The comparison types an extra field may declare, each with what it does.
COMPARE_TYPES: dict[str, str] = {name: kind.meaning for name, kind in _COMPARE.items()}


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file as text columns.

    Args:
        path: A ``.csv`` or ``.parquet`` file.

    Returns:
        The rows, every column as strings (so ids and postcodes keep their leading zeros).

    Raises:
        ToolInputError: The file is missing, has another extension, or cannot be parsed.
    """
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ToolInputError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet")
    if not path.is_file():
        raise ToolInputError(f"{path}: no such file")
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
        return pd.read_parquet(path).astype("string")
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise ToolInputError(f"{path}: cannot read it as {kind}: {error}") from None


def write_table_file(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame as CSV or Parquet, chosen by the file extension.

    Args:
        frame: The rows.
        path: ``.csv`` or ``.parquet`` target; its folder is created.

    Raises:
        ToolInputError: Another extension, or the file cannot be written there.
    """
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ToolInputError(f"{path}: unsupported output type '{path.suffix}'; use .csv or .parquet")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "csv":
            write_csv(frame, path)
        else:
            frame.to_parquet(path, index=False)
    except OSError as error:
        raise ToolInputError(f"{path}: cannot write it: {error.strerror or error}") from None


def _check_extra_name(name: str, source: str) -> None:
    if not _EXTRA_FIELD_NAME.fullmatch(name):
        raise ToolInputError(
            f"{source}: field '{name}': extra field names must be lower-case letters, digits and "
            "underscores, starting with a letter (e.g. street_number)"
        )
    if name in _RESERVED_NAMES or name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        raise ToolInputError(
            f"{source}: field '{name}' is a name the tool uses itself (also any name starting with "
            f"{', '.join(_RESERVED_PREFIXES)} or ending with _l or _r); call it something else"
        )


def parse_mapping(mapping: Mapping[str, Any], source: str = "the column mapping") -> dict[str, MappedField]:
    """Validate a column mapping: built-in fields as ``field: column``, extra fields with a comparison.

    Args:
        mapping: e.g. ``{"email": "Email", "state": {"column": "St", "compare": "exact"}}``; a
            built-in field may also be given as ``{"column": ...}``.
        source: What the mapping is called in messages (its file).

    Returns:
        Field → its column and, for an extra field, its comparison type.

    Raises:
        ToolInputError: Not a mapping, or a field that is malformed, unknown without a comparison,
            given a comparison although built in, or named like the tool's own columns.
    """
    if not isinstance(mapping, Mapping) or not mapping:
        raise ToolInputError(
            f"{source}: the column mapping must be lines of 'field: column', e.g. 'email: Email'"
        )
    fields: dict[str, MappedField] = {}
    for name, entry in mapping.items():
        if not isinstance(name, str):
            raise ToolInputError(f"{source}: field {name!r}: field names are text, e.g. 'email: Email'")
        if isinstance(entry, str | int) and not isinstance(entry, bool):
            column, compare, has_compare = str(entry), None, False
        elif isinstance(entry, Mapping):
            unknown = sorted(set(map(str, entry)) - {"column", "compare"})
            if unknown:
                raise ToolInputError(
                    f"{source}: field '{name}': unknown key(s) {unknown}; give column and compare"
                )
            if not isinstance(entry.get("column"), str | int) or isinstance(entry.get("column"), bool):
                raise ToolInputError(
                    f"{source}: field '{name}': no column; give the input column as 'column: NAME'"
                )
            column, compare, has_compare = str(entry["column"]), entry.get("compare"), "compare" in entry
        else:
            raise ToolInputError(
                f"{source}: field '{name}': give a column name or {{column: ..., compare: ...}}"
            )
        if name in FIELDS:
            if has_compare:
                raise ToolInputError(
                    f"{source}: field '{name}' is built in and compared its own way; leave out compare "
                    "(or give the column another field name to compare it as one of "
                    f"{', '.join(COMPARE_TYPES)})"
                )
        else:
            _check_extra_name(name, source)
            if not has_compare:
                raise ToolInputError(
                    f"{source}: field '{name}' is not a built-in field; declare how to compare it: "
                    f"'{name}: {{column: {column}, compare: exact}}' (compare: {', '.join(COMPARE_TYPES)}). "
                    f"Built-in fields: {', '.join(FIELDS)}"
                )
            if compare not in COMPARE_TYPES:
                raise ToolInputError(
                    f"{source}: field '{name}': unknown compare '{compare}'; use one of {', '.join(COMPARE_TYPES)}"
                )
        fields[name] = MappedField(column, compare)
    return fields


def read_mapping(path: str | Path) -> dict[str, str | dict[str, str]]:
    """Read a column mapping from a YAML file.

    Built-in fields are ``field: column`` lines; an extra field names its column and how to
    compare it, e.g. ``state: {column: St, compare: exact}`` (see ``COMPARE_TYPES``).

    Args:
        path: e.g. a file holding ``first_name: fname`` and ``email: Email Address``.

    Returns:
        Field → column, or → ``{"column": ..., "compare": ...}`` for an extra field.

    Raises:
        ToolInputError: The file is missing or not YAML, or a field is malformed (named with the file).
    """
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ToolInputError(f"{path}: cannot read the column mapping: {error}") from None
    fields = parse_mapping(loaded, source=str(path))
    return {
        name: spec.column if spec.compare is None else {"column": spec.column, "compare": spec.compare}
        for name, spec in fields.items()
    }


def _compared_columns(fields: Mapping[str, MappedField]) -> set[str]:
    """The normalised columns ``prepare_records`` makes from the mapped fields that are compared."""
    columns = {name for name in fields if name in _MATCHING_FIELDS and name != "full_name"}
    if "full_name" in fields:
        columns |= _NAMES
    return columns | {name for name, spec in fields.items() if spec.compare is not None}


def check_mapping(fields: Mapping[str, MappedField], frames: Sequence[tuple[str, pd.DataFrame]]) -> None:
    """Validate a parsed mapping against the inputs.

    Args:
        fields: ``parse_mapping`` output.
        frames: Each input's name (a file path, for messages) and rows.

    Raises:
        ToolInputError: A column an input lacks, one column mapped twice, or no field to compare.
    """
    columns = [spec.column for spec in fields.values()]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ToolInputError(f"column(s) {repeated} are mapped to more than one field")
    for name, frame in frames:
        for field_name, spec in fields.items():
            if spec.column not in frame.columns:
                raise ToolInputError(
                    f"{name}: has no column '{spec.column}' (mapped to {field_name}); "
                    f"its columns are: {', '.join(map(str, frame.columns))}"
                )
    if not _compared_columns(fields):
        raise ToolInputError(
            "the mapping names no field to compare; map at least one of "
            f"{', '.join(sorted(_MATCHING_FIELDS))}, or declare an extra field with a compare type"
        )


def _national_id(value: str) -> str | None:
    compact = _compact(value)
    # Placeholders such as 000000000, "n/a" or "unknown" would join strangers.
    if compact is None or len(compact) < 5 or len(set(compact)) <= 2 or compact in _PLACEHOLDER_IDS:
        return None
    return compact


def prepare_records(
    frame: pd.DataFrame, fields: Mapping[str, MappedField], dataset: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Standardise one input into the tool's comparison columns.

    Args:
        frame: The input rows.
        fields: ``parse_mapping`` output, checked against ``frame``.
        dataset: The input's name in the work table (``source_dataset``).

    Returns:
        ``source_dataset, record_id`` and one normalised column per compared field (names split from
        ``full_name`` when first/last are not mapped; phones as their last eight digits), and per
        field the number of values that could not be read or are placeholders (they count as missing).
    """
    frame = frame.reset_index(drop=True)
    raw = {
        name: frame[spec.column].astype("string").str.strip().replace("", pd.NA)
        for name, spec in fields.items()
    }
    out = pd.DataFrame(index=frame.index)
    out["source_dataset"] = dataset
    # Without an id column a record is known by its row number after the header, counting from 1.
    row_numbers = pd.Series(frame.index + 1, index=frame.index).astype("string")
    out["record_id"] = raw["record_id"].astype("string") if "record_id" in raw else row_numbers
    first, last = raw.get("first_name"), raw.get("last_name")
    if "full_name" in raw and (first is None or last is None):
        split = raw["full_name"].map(lambda v: split_full_name(v) if isinstance(v, str) else (None, None))
        first = first if first is not None else split.map(lambda parts: parts[0]).astype("string")
        last = last if last is not None else split.map(lambda parts: parts[1]).astype("string")
    if first is not None:
        out["first_name"] = _on_unique(_on_unique(first, normalise_name), canonical_first_name)
    if last is not None:
        out["last_name"] = _on_unique(last, normalise_name)
    if "email" in raw:
        out["email"] = _on_unique(raw["email"], normalise_email)
    if "phone" in raw:
        region = raw["country"].fillna("").str.upper() if "country" in raw else ""
        e164 = _on_unique(raw["phone"] + "|" + region, lambda key: normalise_phone(*key.rsplit("|", 1)))
        out["phone"] = _on_unique(e164.fillna(raw["phone"]), phone_tail)
    if "date_of_birth" in raw:
        out["date_of_birth"] = _iso_date(raw["date_of_birth"])
    if "address" in raw:
        out["address"] = _on_unique(raw["address"], _text)
    if "postcode" in raw:
        out["postcode"] = _on_unique(raw["postcode"], _compact)
    if "city" in raw:
        out["city"] = _on_unique(raw["city"], normalise_name)
    if "national_id" in raw:
        out["national_id"] = _on_unique(raw["national_id"], _national_id)
    for name, spec in fields.items():
        if spec.compare is not None:
            out[name] = _COMPARE[spec.compare].normalise(raw[name])
    feeds = {
        name: [name] for name in raw if name in out.columns and name not in {"record_id", "source_dataset"}
    }
    if "full_name" in raw and ("first_name" not in raw or "last_name" not in raw):
        feeds["full_name"] = sorted(_NAMES)
    unreadable = {
        name: int((raw[name].notna() & out[columns].isna().all(axis=1)).sum())
        for name, columns in feeds.items()
    }
    return out, unreadable


def _comparisons(
    present: set[str], extras: Mapping[str, str], names_together: bool
) -> list[tuple[frozenset, Any]]:
    """Each comparison with the fields it reads: the mapped built-in fields, then the extra fields."""
    comparisons: list[tuple[frozenset, Any]] = []
    if names_together:
        comparisons.append(
            (
                _NAMES,
                cl.ForenameSurnameComparison(
                    "first_name", "last_name", forename_surname_concat_col_name=None
                ),
            )
        )
    else:
        comparisons += [
            (frozenset({f}), cl.NameComparison(f)) for f in ("first_name", "last_name") if f in present
        ]
    comparisons += [(frozenset({f}), build(f)) for f, build in _BUILT_IN_COMPARISONS.items() if f in present]
    comparisons += [(frozenset({f}), _COMPARE[compare].comparison(f)) for f, compare in extras.items()]
    return comparisons


# Candidate-pair rules, used when every column they name is mapped. Each catches pairs the others
# miss (a changed email, a typo in the surname, swapped names), since recall is lost in blocking.
_BLOCKING = (
    ("email",),
    ("phone",),
    ("national_id",),
    ("first_name", "last_name"),
    ("last_name", "date_of_birth"),
    ("first_name", "date_of_birth"),
    ("last_name", "postcode"),
    ("first_name", "postcode"),
    ("date_of_birth", "postcode"),
    ("last_name", "city"),
    ("address",),
)


def _blocking_rules(present: set[str]) -> list:
    rules: list = [block_on(*cols) for cols in _BLOCKING if set(cols) <= present]
    if present >= _NAMES:
        rules.append("l.first_name = r.last_name and l.last_name = r.first_name")
    return rules


def _agreeing_pairs(records: pd.DataFrame, columns: tuple[str, ...], link: bool) -> int:
    """How many record pairs agree exactly on ``columns`` (cross-input pairs only when linking)."""
    known = records.dropna(subset=list(columns))
    if link:
        per_input = known.groupby([*columns, "source_dataset"]).size().unstack(fill_value=0)
        return int(per_input.prod(axis=1).sum()) if per_input.shape[1] == len(DATASETS) else 0
    sizes = known.groupby(list(columns)).size()
    return int((sizes * (sizes - 1) // 2).sum())


def _all_pairs(records: pd.DataFrame, link: bool) -> int:
    if link:
        return int(records["source_dataset"].value_counts().prod())
    return len(records) * (len(records) - 1) // 2


@dataclass
class _TrainingPlan:
    """What training a new model on the input takes: its comparisons and the estimation steps."""

    comparisons: list[tuple[frozenset, Any]]
    prior_rules: list
    sessions: list[str]


def _training_plan(
    records: pd.DataFrame, present: set[str], extras: Mapping[str, str], link: bool
) -> _TrainingPlan:
    candidates = [c for c in _SESSION_FIELDS if c in present and _agreeing_pairs(records, (c,), link) > 0]
    # An EM session cannot train a comparison reading the field it blocks on. Compared as one, the
    # names could then only be trained by a session blocked on another field; without one they are
    # compared apart, so that blocking on either name trains the other.
    names_together = present >= _NAMES and any(c not in _NAMES for c in candidates)
    comparisons = _comparisons(present, extras, names_together)
    # A session blocked on a field every comparison reads would train nothing (and Splink fails on it);
    # comparisons left untrained keep Splink's default m probabilities.
    sessions = [c for c in candidates if any(c not in fields for fields, _ in comparisons)][:3]
    agreeing = {cols: _agreeing_pairs(records, cols, link) for cols in _PRIOR_RULES if set(cols) <= present}
    prior_rules = [block_on(*cols) for cols, n in agreeing.items() if n > 0]
    # Splink cannot estimate the match rate when the rules alone find more pairs than the assumed
    # recall allows (a tiny input, or most of it one person): the prior then keeps its default (1e-4).
    if sum(agreeing.values()) > _PRIOR_RECALL * _all_pairs(records, link):
        prior_rules = []
    return _TrainingPlan(comparisons, prior_rules, sessions)


def _settings(plan: _TrainingPlan, present: set[str], link: bool) -> SettingsCreator:
    rules = _blocking_rules(present)
    if not rules:
        raise ToolInputError(
            "the mapped fields give no way to find candidate pairs; map an email, phone, national id, "
            "address, or a name together with a date of birth, postcode or city "
            "(extra fields are compared, not blocked on)"
        )
    return SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="uid",
        comparisons=[comparison for _, comparison in plan.comparisons],
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=["record_id"],
    )


@dataclass
class _Steps:
    """Reports each step of a run as it starts: its description, its number and the step count."""

    report: Callable[[str, int, int], None] | None
    total: int
    done: int = field(default=0)

    def start(self, description: str) -> None:
        self.done += 1
        if self.report is not None:
            self.report(description, self.done, self.total)


def _train(linker: Linker, plan: _TrainingPlan, max_pairs: float, seed: int, steps: _Steps) -> list[str]:
    """Estimate the model's parameters; returns the fields whose EM session had to be dropped."""
    if plan.prior_rules:
        steps.start("training: match rate from exact identifiers")
        linker.training.estimate_probability_two_random_records_match(plan.prior_rules, recall=_PRIOR_RECALL)
    steps.start("training: u probabilities by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs / 2, seed=seed)
    dropped = []
    for column in plan.sessions:
        steps.start(f"training: EM blocked on {column}")
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(column), max_pairs=max_pairs, fix_probability_two_random_records_match=True
            )
        except ValueError as error:
            # Splink 5 stops EM when an m or u probability underflows to 0 (a level seen only in pairs
            # EM is sure do not match, common in small inputs); the model keeps its earlier estimates.
            if "below the minimum allowed value" not in str(error):
                raise
            _log.info("EM session blocked on %s dropped: %s", column, error)
            dropped.append(column)
    return dropped


class _TrainingNoteFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and _TRAINING_NOTES[record.name] in record.getMessage():
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


@contextmanager
def _training_notes_at_info() -> Iterator[None]:
    note_filter = _TrainingNoteFilter()
    loggers = [logging.getLogger(name) for name in _TRAINING_NOTES]
    for logger in loggers:
        logger.addFilter(note_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(note_filter)


def read_model(path: str | Path) -> dict:
    """Read a model saved by ``cdp identity resolve --model-out`` (or from ``ToolResult.model``).

    Args:
        path: The model JSON file.

    Returns:
        The model (checked against the inputs by ``resolve_frame``).

    Raises:
        ToolInputError: The file is missing, unreadable or not JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ToolInputError(f"{path}: no such model file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ToolInputError(
            f"{path}: is not JSON; give a model saved by `cdp identity resolve --model-out`"
        ) from None


def _sql_columns(sql: str) -> list[exp.Column]:
    return list(sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column))


def _model_fields(model: dict) -> set[str]:
    """The input columns a saved model's comparisons and blocking rules read."""
    columns = set()
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                columns |= {re.sub(r"_[lr]$", "", c.name) for c in _sql_columns(level["sql_condition"])}
    for rule in model["blocking_rules_to_generate_predictions"]:
        columns |= {c.name for c in _sql_columns(rule["blocking_rule"] if isinstance(rule, dict) else rule)}
    return columns - {"uid", "source_dataset", "record_id"}


def check_model(
    model: dict, fields: Mapping[str, MappedField], link: bool, name: str = "the model"
) -> set[str]:
    """Check that a saved model can score these inputs.

    Args:
        model: A model saved by an earlier run.
        fields: ``parse_mapping`` output.
        link: True when two inputs are linked.
        name: What the model is called in messages (its file).

    Returns:
        The fields the model compares.

    Raises:
        ToolInputError: Not a model of this tool, trained for the other mode (deduplicate / link),
            or comparing a field the mapping lacks.
    """
    not_ours = ToolInputError(
        f"{name}: is not a model saved by `cdp identity resolve --model-out`; train one with --model-out"
    )
    if (
        not isinstance(model, dict)
        or model.get("unique_id_column_name") != "uid"
        or not model.get("comparisons")
    ):
        raise not_ours
    try:
        needed = _model_fields(model)
    except (KeyError, TypeError, AttributeError, sqlglot.errors.SqlglotError):
        raise not_ours from None
    trained_to_link = model.get("link_type") == "link_only"
    if link and not trained_to_link:
        raise ToolInputError(
            f"{name}: was trained to deduplicate one file and cannot link two; use a model saved by a run "
            "with --link, or leave out --link to deduplicate"
        )
    if not link and trained_to_link:
        raise ToolInputError(
            f"{name}: was trained to link two files and cannot deduplicate one; give the --link file, or "
            "use a model saved by a run without --link"
        )
    missing = needed - _compared_columns(fields)
    if missing:
        raise ToolInputError(
            f"{name}: compares {', '.join(sorted(needed))}; the mapping has no {', '.join(sorted(missing))}. "
            "Map the fields the model was trained with, or leave out the model to train one on this input"
        )
    return needed


def _untrained_parameters(model: dict) -> int:
    """m and u probabilities of the model's comparison levels that training could not estimate."""
    return sum(
        ("m_probability" not in level) + ("u_probability" not in level)
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if not level.get("is_null_level")
    )


def _deterministic_pairs(con: duckdb.DuckDBPyConnection, present: set[str], link: bool) -> pd.DataFrame:
    rules = [(name, rule) for name, rule in DETERMINISTIC_FIELDS.items() if name in present]
    if not rules:
        return pd.DataFrame(
            {
                "uid_l": pd.Series(dtype="int64"),
                "uid_r": pd.Series(dtype="int64"),
                "rule": pd.Series(dtype="string"),
            }
        )
    side = "l.source_dataset < r.source_dataset" if link else "l.uid < r.uid"
    union = " UNION ALL ".join(
        f"SELECT l.uid AS uid_l, r.uid AS uid_r, '{rule}' AS rule FROM _tool_records l "
        f"JOIN _tool_records r ON {side} AND l.{name} = r.{name}"
        for name, rule in rules
    )
    return con.execute(f"SELECT uid_l, uid_r, min(rule) AS rule FROM ({union}) GROUP BY ALL").df()


def _derived_id(key: str, attempt: int) -> str:
    # A hash, so the id shows nothing of the record id it comes from.
    return "cus_" + hashlib.sha256(f"{key}\x1f{attempt}".encode()).hexdigest()[:16]


def _previous_ids(previous: pd.DataFrame, names: tuple[str, str], link: bool, source: str) -> pd.DataFrame:
    """The earlier assignments as ``record_id, customer_id`` keyed like this run's records."""
    missing = {"source_dataset", "record_id", "customer_id"} - set(previous.columns)
    if missing:
        raise ToolInputError(
            f"{source}: missing column(s) {sorted(missing)}; give an earlier assignments file"
        )
    datasets = previous["source_dataset"].astype("string")
    if link:
        if not set(datasets.dropna()) & set(names):
            raise ToolInputError(
                f"{source}: names the inputs {', '.join(sorted(set(datasets.dropna()))[:2])}, not "
                f"{names[0]} or {names[1]}; give an earlier output of linking these files"
            )
        keys = datasets + "\x1f" + previous["record_id"].astype("string")
    else:
        if datasets.nunique() > 1:
            raise ToolInputError(
                f"{source}: holds records of {datasets.nunique()} inputs (a --link output); give an earlier "
                "output of deduplicating this file"
            )
        # One input: matched by record id alone, so a renamed file keeps its ids.
        keys = previous["record_id"].astype("string")
    repeated = keys.duplicated() & keys.notna()
    if repeated.any():
        raise ToolInputError(
            f"{source}: lists one record twice (row {int(repeated.to_numpy().argmax()) + 1} after the header); "
            "give an assignments file written by --out"
        )
    return pd.DataFrame({"record_id": keys, "customer_id": previous["customer_id"].astype("string")})


def resolve_frame(
    records: pd.DataFrame,
    mapping: Mapping[str, Any],
    other: pd.DataFrame | None = None,
    threshold: float = 0.95,
    pair_threshold: float = 0.5,
    previous: pd.DataFrame | None = None,
    model: dict | None = None,
    max_pairs: float = 2e6,
    seed: int = 7,
    names: tuple[str, str] = ("left", "right"),
    model_name: str = "the model",
    previous_name: str = "the previous assignments",
    progress: Callable[[str, int, int], None] | None = None,
) -> ToolResult:
    """Deduplicate one frame of person records, or link two, using a column mapping.

    Args:
        records: The (first) input's rows.
        mapping: Field → column for built-in fields (``FIELDS``), and extra fields as
            ``{"column": ..., "compare": ...}`` (``COMPARE_TYPES``); any field may be absent.
        other: A second input with the same columns to link to, or None to deduplicate ``records``.
        threshold: Minimum match probability for a model link to join two records.
        pair_threshold: Minimum match probability for a scored pair to be returned (linked pairs
            are always returned).
        previous: Earlier ``assignments`` (``source_dataset, record_id, customer_id``) to carry
            customer ids over from, or None: every customer's id is then derived from its smallest
            record key (the record id; input name and record id when linking).
        model: A model saved from an earlier run to score with, or None to train one on the input.
        max_pairs: Cap on the pairs sampled for each training step (keeps memory bounded).
        seed: Seed of the random sampling used in training.
        names: What the two inputs are called in ``source_dataset`` and in error messages.
        model_name: What ``model`` is called in error messages.
        previous_name: What ``previous`` is called in error messages.
        progress: Called as each step starts with its description, its number (from 1) and the
            number of steps, e.g. to drive a progress bar; or None.

    Returns:
        Assignments, scored pairs, the model and run figures.

    Raises:
        ToolInputError: A bad mapping, a missing column, a blank or repeated record id, or a model or
            previous assignments that do not fit the inputs (named with the input).
    """
    started = time.monotonic()
    fields = parse_mapping(mapping)
    link = other is not None
    if link and names[0] == names[1]:
        raise ToolInputError(
            f"both inputs are named '{names[0]}'; give them different names (a record is known by its "
            "input's name and its id)"
        )
    inputs = [(names[0], records), *([(names[1], other)] if link else [])]
    check_mapping(fields, inputs)
    present = _compared_columns(fields)
    compared = check_model(model, fields, link, model_name) if model is not None else None
    prior = (
        _previous_ids(previous, names, link, previous_name)
        if previous is not None and len(previous)
        else None
    )

    prepared, unreadable = [], {}
    id_column = fields["record_id"].column if "record_id" in fields else None
    for (name, frame), dataset in zip(inputs, DATASETS, strict=False):
        part, part_unreadable = prepare_records(frame, fields, dataset)
        if part.empty or (not link and len(part) < 2):
            raise ToolInputError(f"{name}: has {len(part)} record(s); there is nothing to compare")
        for problem, rows in (
            ("is empty", part["record_id"].isna()),
            ("repeats", part["record_id"].duplicated()),
        ):
            if rows.any():
                raise ToolInputError(
                    f"{name}: record id column '{id_column}' {problem} in row {int(rows.to_numpy().argmax()) + 1} "
                    "after the header; ids must be given and unique (or leave record_id unmapped to use row numbers)"
                )
        prepared.append(part)
        for key, count in part_unreadable.items():
            unreadable[key] = unreadable.get(key, 0) + count
    combined = pd.concat(prepared, ignore_index=True)
    combined.insert(0, "uid", pd.RangeIndex(len(combined), dtype="int64"))
    extras = {name: spec.compare for name, spec in fields.items() if spec.compare is not None}
    plan = _training_plan(combined, present, extras, link) if model is None else None
    dropped_sessions: list[str] = []
    training_steps = 0 if plan is None else 1 + bool(plan.prior_rules) + len(plan.sessions)
    steps = _Steps(progress, training_steps + 2)
    timings = {"prepare_seconds": time.monotonic() - started}

    with duckdb.connect() as con, _training_notes_at_info():
        db_api = DuckDBAPI(con)
        tables = [
            db_api.register(combined[combined["source_dataset"] == ds], dataset_display_name=ds)
            for ds in DATASETS[: len(prepared)]
        ]
        inputs_table = tables if link else tables[0]
        phase = time.monotonic()
        # log_level=None: Splink leaves the logging set-up (and its level) to the application.
        if plan is not None:
            linker = Linker(inputs_table, _settings(plan, present, link), log_level=None)
            dropped_sessions = _train(linker, plan, max_pairs, seed, steps)
            model = linker.misc.save_model_to_json()
            compared = _model_fields(model)
        linker = Linker(inputs_table, model, log_level=None)
        timings["train_seconds"] = time.monotonic() - phase

        phase = time.monotonic()
        steps.start("scoring candidate pairs")
        # Scored down to the lower threshold, so that a pair threshold above the link threshold loses no
        # link. Splink turns 1.0 into an infinite match weight its SQL cannot hold; a hair below it
        # scores the same pairs once they are filtered below.
        scored = linker.inference.predict(
            threshold_match_probability=min(threshold, pair_threshold, 1 - 1e-12), warning_mode="never"
        )
        con.register("_tool_records", combined)
        deterministic = _deterministic_pairs(con, present, link)
        field_weights = [
            c
            for c in con.execute(f"DESCRIBE {scored.physical_name}").df()["column_name"]
            if c.startswith("mw_") and not c.startswith("mw_tf_adj_")
        ]
        pairs = con.execute(
            f"""
            SELECT least(uid_l, uid_r) AS uid_l, greatest(uid_l, uid_r) AS uid_r,
                   match_weight, match_probability {"".join(", " + g for g in field_weights)}
            FROM {scored.physical_name}
            """
        ).df()
        con.unregister("_tool_records")
        pairs = pairs.merge(deterministic, on=["uid_l", "uid_r"], how="outer")
        pairs["rule"] = pairs["rule"].fillna("model")
        pairs["match_probability"] = pairs["match_probability"].where(pairs["rule"] == "model", 1.0)
        pairs["is_linked"] = (pairs["rule"] != "model") | (pairs["match_probability"] >= threshold)
        pairs = pairs[pairs["is_linked"] | (pairs["match_probability"] >= pair_threshold)]
        links = pairs.loc[pairs["is_linked"], ["uid_l", "uid_r"]].astype("string")
        links.columns = ["record_id_l", "record_id_r"]
        steps.start("clustering linked records")
        cluster_keys = connected_components(con, combined["uid"], links)
        timings["predict_seconds"] = time.monotonic() - phase

    keys = combined[["uid", "source_dataset", "record_id"]].copy()
    keys["source_dataset"] = keys["source_dataset"].map(dict(zip(DATASETS, names, strict=True)))
    keys["key"] = keys["source_dataset"] + "\x1f" + keys["record_id"] if link else keys["record_id"]
    # Each customer is keyed by its smallest record key, so a derived id does not depend on row order.
    keys["cluster"] = keys["uid"].astype("string").map(cluster_keys)
    keys["cluster"] = keys.groupby("cluster")["key"].transform("min")
    clusters = pd.Series(keys["cluster"].to_numpy(), index=keys["key"].to_numpy(), dtype="string")
    ids = assign_customer_ids(clusters, prior, mint=_derived_id).set_index("record_id")["customer_id"]

    linked = pairs[pairs["is_linked"]]
    strongest = (
        pd.concat(
            [
                linked[["uid_l", "match_probability"]].rename(columns={"uid_l": "uid"}),
                linked[["uid_r", "match_probability"]].rename(columns={"uid_r": "uid"}),
            ]
        )
        .groupby("uid")["match_probability"]
        .max()
    )
    assignments = keys[["source_dataset", "record_id"]].copy()
    assignments["customer_id"] = keys["key"].map(ids).astype("string")
    assignments["cluster_size"] = (
        assignments.groupby("customer_id")["record_id"].transform("size").astype("int64")
    )
    assignments["match_probability"] = keys["uid"].map(strongest).fillna(1.0).astype("float64")

    named = keys.set_index("uid")[["source_dataset", "record_id"]]
    left = named.add_suffix("_l").reindex(pairs["uid_l"]).reset_index(drop=True)
    right = named.add_suffix("_r").reindex(pairs["uid_r"]).reset_index(drop=True)
    pairs = pd.concat([left, right, pairs.drop(columns=["uid_l", "uid_r"]).reset_index(drop=True)], axis=1)
    pairs = pairs[
        [
            "source_dataset_l",
            "record_id_l",
            "source_dataset_r",
            "record_id_r",
            "match_weight",
            "match_probability",
            "rule",
            "is_linked",
            *field_weights,
        ]
    ].sort_values(
        ["match_probability", "record_id_l", "record_id_r"], ascending=[False, True, True], ignore_index=True
    )

    stats = {
        "records": len(assignments),
        "customers": int(assignments["customer_id"].nunique()),
        "pairs": len(pairs),
        "links": len(links),
        "deterministic_links": int((pairs["rule"] != "model").sum()),
        "compared_fields": sorted(compared),
        "trained": plan is not None,
        "untrained_parameters": _untrained_parameters(model),
        "dropped_em_sessions": dropped_sessions,
        "unreadable_values": {name: count for name, count in sorted(unreadable.items()) if count},
        **{k: round(v, 3) for k, v in timings.items()},
        "total_seconds": round(time.monotonic() - started, 3),
    }
    return ToolResult(assignments=assignments, pairs=pairs, model=model, stats=stats)


def _same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def resolve_file(
    path: str | Path,
    mapping: Mapping[str, Any],
    other_path: str | Path | None = None,
    out: str | Path | None = None,
    pairs_out: str | Path | None = None,
    previous_path: str | Path | None = None,
    model_path: str | Path | None = None,
    **options,
) -> ToolResult:
    """Resolve a CSV/Parquet file of person records (or link two) and write the results.

    Args:
        path: The (first) input file.
        mapping: Field → column (see ``FIELDS``), extra fields with their comparison (``read_mapping``).
        other_path: A second file to link to, or None to deduplicate ``path``.
        out: Where to write the assignments (``.csv`` or ``.parquet``), or None not to write them.
        pairs_out: Where to write the scored pairs, or None.
        previous_path: An earlier assignments file whose customer ids are carried over.
        model_path: A model JSON saved by an earlier run to score with, instead of training.
        **options: Passed to ``resolve_frame`` (threshold, pair_threshold, model, max_pairs, seed,
            progress).

    Returns:
        The same result as ``resolve_frame``; each input is named by its file name (its path when
        both have the same name) in ``source_dataset``.

    Raises:
        ToolInputError: An unreadable file, bad mapping, missing column or unusable model, named with
            the file; or the same file given as both inputs.
    """
    for target in (out, pairs_out):
        if target is not None and Path(target).suffix.lower() not in _SUFFIXES:
            raise ToolInputError(
                f"{target}: unsupported output type '{Path(target).suffix}'; use .csv or .parquet"
            )
    if other_path is not None and _same_file(path, other_path):
        raise ToolInputError(
            f"{path}: is both the input and the --link file; to find duplicates within one file, leave out --link"
        )
    sources = [p for p in (path, other_path, previous_path, model_path) if p is not None]
    targets = [t for t in (out, pairs_out) if t is not None]
    for number, target in enumerate(targets):
        if any(_same_file(target, other) for other in [*sources, *targets[number + 1 :]]):
            raise ToolInputError(
                f"{target}: is also an input or the other output of this run; write the results to a new file"
            )
    records = read_table_file(path)
    other = read_table_file(other_path) if other_path is not None else None
    if previous_path is not None:
        options.update(previous=read_table_file(previous_path), previous_name=str(previous_path))
    if model_path is not None:
        options.update(model=read_model(model_path), model_name=str(model_path))
    names = (Path(path).name, Path(other_path).name if other_path is not None else "")
    if names[0] == names[1]:
        names = (str(path), str(other_path))
    result = resolve_frame(records, mapping, other, names=names, **options)
    if out is not None:
        write_table_file(result.assignments, out)
    if pairs_out is not None:
        write_table_file(result.pairs, pairs_out)
    return result
