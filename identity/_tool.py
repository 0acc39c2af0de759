"""Resolve any file of person records: a column mapping in, customer assignments and pair scores out.

The pipeline's model is tuned to our own sources. This tool builds a Splink model for whatever
columns a file has: it compares only the mapped fields, blocks only on them, trains the model by
EM on the input itself, and links records with the same email or national id outright. One file is
deduplicated; two files are linked to each other.
"""

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import splink.comparison_library as cl
import yaml
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from unidecode import unidecode

from identity._ids import assign_customer_ids, connected_components
from identity._normalise import (
    canonical_first_name,
    normalise_email,
    normalise_name,
    normalise_phone,
    phone_tail,
    split_full_name,
)

# Splink logs every EM iteration and sampling chunk at INFO.
_SPLINK_LOG_LEVEL = logging.WARNING

# The fields a mapping may name, each with what it means.
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
# Fields the model compares; record_id and country only support the others.
_MATCHING_FIELDS = set(FIELDS) - {"record_id", "country"}
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_PLACEHOLDER_IDS = {"unknown", "none", "null", "notknown", "missing", "123456789", "1234567890"}
DETERMINISTIC_FIELDS = {"email": "same_email", "national_id": "same_national_id"}
DATASETS = ("input_left", "input_right")


class ToolInputError(ValueError):
    """A mapping, file or column the user gave cannot be used; the message says which and why."""


@dataclass
class ToolResult:
    """What one resolve run produced.

    Attributes:
        assignments: One row per input record: ``source_dataset, record_id, customer_id, cluster_size,
            match_probability`` (the record's strongest accepted link; 1.0 for a lone record).
        pairs: One row per scored candidate pair at or above the pair threshold:
            ``source_dataset_l, record_id_l, source_dataset_r, record_id_r, match_weight,
            match_probability, rule, is_linked`` and the match weight ``mw_<comparison>`` each compared
            field contributed (deterministic-only pairs below the pair threshold have no weights).
        model: The trained Splink model (reuse it with ``model=`` to score other files alike).
        stats: Figures: records, customers, pairs, links, seconds per phase.
    """

    assignments: pd.DataFrame
    pairs: pd.DataFrame
    model: dict
    stats: dict


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
        ToolInputError: Another extension.
    """
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ToolInputError(f"{path}: unsupported output type '{path.suffix}'; use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def read_mapping(path: str | Path) -> dict[str, str]:
    """Read a column mapping from a YAML file of ``field: column`` lines.

    Args:
        path: e.g. a file holding ``first_name: fname`` and ``email: Email Address``.

    Returns:
        Field → column.

    Raises:
        ToolInputError: The file is missing, not YAML, or not a flat mapping of names.
    """
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ToolInputError(f"{path}: cannot read the column mapping: {error}") from None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int) for k, v in loaded.items()
    ):
        raise ToolInputError(
            f"{path}: the column mapping must be lines of 'field: column', e.g. 'email: Email'"
        )
    return {field: str(column) for field, column in loaded.items()}


def check_mapping(mapping: Mapping[str, str], frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Validate a field → column mapping against the inputs.

    Args:
        mapping: e.g. ``{"first_name": "fname", "email": "Email"}``.
        frames: Each input's name (a file path, for messages) and rows.

    Returns:
        The mapping as a plain dict.

    Raises:
        ToolInputError: An unknown field, a column an input lacks, one column mapped twice, or no
            field to compare.
    """
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ToolInputError(
            f"unknown field(s) {unknown} in the column mapping; known fields: {', '.join(FIELDS)}"
        )
    columns = list(mapping.values())
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ToolInputError(f"column(s) {repeated} are mapped to more than one field")
    for name, frame in frames.items():
        for field, column in mapping.items():
            if column not in frame.columns:
                raise ToolInputError(
                    f"{name}: has no column '{column}' (mapped to {field}); "
                    f"its columns are: {', '.join(map(str, frame.columns))}"
                )
    if not _MATCHING_FIELDS & set(mapping):
        raise ToolInputError(
            f"the mapping names no field to compare; map at least one of {', '.join(sorted(_MATCHING_FIELDS))}"
        )
    return dict(mapping)


def _on_unique(series: pd.Series, fn) -> pd.Series:
    values = series.dropna().unique()
    return series.map({value: fn(value) for value in values}).astype("string")


def _text(value: str) -> str | None:
    return _NOT_ALNUM.sub(" ", unidecode(value).lower()).strip() or None


def _compact(value: str) -> str | None:
    return _NOT_ALNUM.sub("", unidecode(value).lower()) or None


def _national_id(value: str) -> str | None:
    compact = _compact(value)
    # Placeholders such as 000000000, "n/a" or "unknown" would join strangers.
    if compact is None or len(compact) < 5 or len(set(compact)) <= 2 or compact in _PLACEHOLDER_IDS:
        return None
    return compact


def _iso_date(values: pd.Series) -> pd.Series:
    unique = values.dropna().unique()
    parsed = pd.to_datetime(pd.Series(unique, dtype="string"), errors="coerce", format="mixed")
    lookup = dict(zip(unique, parsed.dt.strftime("%Y-%m-%d"), strict=True))
    return values.map(lookup).astype("string")


def prepare_records(frame: pd.DataFrame, mapping: Mapping[str, str], dataset: str) -> pd.DataFrame:
    """Standardise one input into the tool's comparison columns.

    Args:
        frame: The input rows.
        mapping: Field → column (validated).
        dataset: The input's name in the output (``source_dataset``).

    Returns:
        ``source_dataset, record_id`` and one normalised column per mapped matching field (names
        split from ``full_name`` when first/last are not mapped; phones as their last eight digits).
    """
    frame = frame.reset_index(drop=True)
    raw = {
        field: frame[column].astype("string").str.strip().replace("", pd.NA)
        for field, column in mapping.items()
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
    return out


def _comparisons(present: set[str]) -> list:
    comparisons = []
    if {"first_name", "last_name"} <= present:
        comparisons.append(
            cl.ForenameSurnameComparison("first_name", "last_name", forename_surname_concat_col_name=None)
        )
    else:
        comparisons += [cl.NameComparison(f) for f in ("first_name", "last_name") if f in present]
    if "email" in present:
        # No "same user name at another domain" level: look-alike people share those (john.smith@).
        comparisons.append(cl.LevenshteinAtThresholds("email", [2]))
    if "phone" in present:
        comparisons.append(cl.ExactMatch("phone"))
    if "date_of_birth" in present:
        comparisons.append(cl.DateOfBirthComparison("date_of_birth", input_is_string=True))
    if "address" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.85]))
    if "postcode" in present:
        comparisons.append(cl.LevenshteinAtThresholds("postcode", [1]))
    if "city" in present:
        comparisons.append(cl.JaroWinklerAtThresholds("city", [0.92]))
    if "national_id" in present:
        comparisons.append(cl.LevenshteinAtThresholds("national_id", [1]))
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
    if {"first_name", "last_name"} <= present:
        rules.append("l.first_name = r.last_name and l.last_name = r.first_name")
    return rules


def build_settings(present: set[str], link: bool) -> SettingsCreator:
    """Splink settings comparing and blocking on the mapped fields only.

    Args:
        present: The normalised matching columns the inputs have.
        link: True to link two inputs (cross-file pairs only), False to deduplicate one.

    Returns:
        Untrained settings.

    Raises:
        ToolInputError: No blocking rule can be built (e.g. only a city is mapped).
    """
    rules = _blocking_rules(present)
    if not rules:
        raise ToolInputError(
            "the mapped fields give no way to find candidate pairs; map an email, phone, national id, "
            "or a name together with a date of birth, postcode or city"
        )
    return SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="uid",
        comparisons=_comparisons(present),
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=["record_id"],
    )


def _agreeing_pairs(records: pd.DataFrame, columns: tuple[str, ...], link: bool) -> int:
    """How many record pairs agree exactly on ``columns`` (cross-input pairs only when linking)."""
    known = records.dropna(subset=list(columns))
    if link:
        per_input = known.groupby([*columns, "source_dataset"]).size().unstack(fill_value=0)
        return int(per_input.prod(axis=1).sum()) if per_input.shape[1] == len(DATASETS) else 0
    sizes = known.groupby(list(columns)).size()
    return int((sizes * (sizes - 1) // 2).sum())


def _train(
    linker: Linker, records: pd.DataFrame, present: set[str], link: bool, max_pairs: float, seed: int
) -> None:
    # Without any pair agreeing on an identifier the prior keeps Splink's default (1e-4).
    deterministic = [
        block_on(*columns)
        for columns in (
            ("email",),
            ("national_id",),
            ("phone",),
            ("first_name", "last_name", "date_of_birth"),
        )
        if set(columns) <= present and _agreeing_pairs(records, columns, link) > 0
    ]
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs / 2, seed=seed)
    # Each EM session cannot train the comparison it blocks on, so sessions blocked on different
    # fields between them train every comparison. A field no two records share cannot block one;
    # comparisons left untrained keep Splink's default m probabilities.
    sessions = [
        column
        for column in ("email", "phone", "date_of_birth", "postcode", "last_name", "first_name")
        if column in present and _agreeing_pairs(records, (column,), link) > 0
    ][:3]
    for column in sessions:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(column), max_pairs=max_pairs, fix_probability_two_random_records_match=True
        )


def _deterministic_pairs(con: duckdb.DuckDBPyConnection, present: set[str], link: bool) -> pd.DataFrame:
    rules = [(field, name) for field, name in DETERMINISTIC_FIELDS.items() if field in present]
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
        f"SELECT l.uid AS uid_l, r.uid AS uid_r, '{name}' AS rule FROM _tool_records l "
        f"JOIN _tool_records r ON {side} AND l.{field} = r.{field}"
        for field, name in rules
    )
    return con.execute(f"SELECT uid_l, uid_r, min(rule) AS rule FROM ({union}) GROUP BY ALL").df()


def resolve_frame(
    records: pd.DataFrame,
    mapping: Mapping[str, str],
    other: pd.DataFrame | None = None,
    threshold: float = 0.95,
    pair_threshold: float = 0.5,
    previous: pd.DataFrame | None = None,
    model: dict | None = None,
    max_pairs: float = 2e6,
    seed: int = 7,
    names: tuple[str, str] = ("left", "right"),
) -> ToolResult:
    """Deduplicate one frame of person records, or link two, using a column mapping.

    Args:
        records: The (first) input's rows.
        mapping: Field → column name, for fields in ``FIELDS``; any field may be absent.
        other: A second input with the same columns to link to, or None to deduplicate ``records``.
        threshold: Minimum match probability for a model link to join two records.
        pair_threshold: Minimum match probability for a scored pair to be returned.
        previous: Earlier ``assignments`` (``source_dataset, record_id, customer_id``) to carry
            customer ids over from, or None to mint new ids.
        model: A model saved from an earlier run to score with, or None to train one on the input.
        max_pairs: Cap on the pairs sampled for each training step (keeps memory bounded).
        seed: Seed of the random sampling used in training.
        names: What the two inputs are called in ``source_dataset`` and in error messages.

    Returns:
        Assignments, scored pairs, the model and run figures.

    Raises:
        ToolInputError: A bad mapping, a missing column or a repeated record id (named with its input).
    """
    started = time.monotonic()
    inputs = {names[0]: records} if other is None else {names[0]: records, names[1]: other}
    check_mapping(mapping, inputs)
    prepared = []
    for (name, frame), dataset in zip(inputs.items(), DATASETS, strict=False):
        part = prepare_records(frame, mapping, dataset)
        if part.empty or (other is None and len(part) < 2):
            raise ToolInputError(f"{name}: has {len(part)} record(s); there is nothing to compare")
        repeated = part["record_id"][part["record_id"].duplicated()]
        if len(repeated):
            raise ToolInputError(
                f"{name}: record id column '{mapping['record_id']}' repeats in row {repeated.index[0] + 1} "
                "after the header; "
                "ids must be unique (or leave record_id unmapped to use row numbers)"
            )
        prepared.append(part)
    combined = pd.concat(prepared, ignore_index=True)
    combined.insert(0, "uid", pd.RangeIndex(len(combined), dtype="int64"))
    present = set(combined.columns) & _MATCHING_FIELDS
    link = other is not None
    timings = {"prepare_seconds": time.monotonic() - started}

    with duckdb.connect() as con:
        db_api = DuckDBAPI(con)
        tables = [
            db_api.register(combined[combined["source_dataset"] == ds], dataset_display_name=ds)
            for ds in DATASETS[: len(prepared)]
        ]
        phase = time.monotonic()
        if model is None:
            linker = Linker(
                tables if link else tables[0], build_settings(present, link), log_level=_SPLINK_LOG_LEVEL
            )
            _train(linker, combined, present, link, max_pairs, seed)
            model = linker.misc.save_model_to_json()
        linker = Linker(tables if link else tables[0], model, log_level=_SPLINK_LOG_LEVEL)
        timings["train_seconds"] = time.monotonic() - phase

        phase = time.monotonic()
        scored = linker.inference.predict(threshold_match_probability=pair_threshold, warning_mode="never")
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
        links = pairs.loc[pairs["is_linked"], ["uid_l", "uid_r"]].astype("string")
        links.columns = ["record_id_l", "record_id_r"]
        cluster_keys = connected_components(con, combined["uid"], links)
        timings["predict_seconds"] = time.monotonic() - phase

    keys = combined[["uid", "source_dataset", "record_id"]].copy()
    keys["source_dataset"] = keys["source_dataset"].map(dict(zip(DATASETS, names, strict=True)))
    keys["key"] = keys["source_dataset"] + "\x1f" + keys["record_id"]
    clusters = pd.Series(
        keys["uid"].astype("string").map(cluster_keys).to_numpy(),
        index=keys["key"].to_numpy(),
        dtype="string",
    )
    prior = None
    if previous is not None and len(previous):
        prior = pd.DataFrame(
            {
                "record_id": previous["source_dataset"].astype("string")
                + "\x1f"
                + previous["record_id"].astype("string"),
                "customer_id": previous["customer_id"].astype("string"),
            }
        )
    ids = assign_customer_ids(clusters, prior).set_index("record_id")["customer_id"]

    strongest = (
        pd.concat(
            [
                pairs.loc[pairs["is_linked"], ["uid_l", "match_probability"]].rename(
                    columns={"uid_l": "uid"}
                ),
                pairs.loc[pairs["is_linked"], ["uid_r", "match_probability"]].rename(
                    columns={"uid_r": "uid"}
                ),
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
        "links": int(pairs["is_linked"].sum()),
        "deterministic_links": int((pairs["rule"] != "model").sum()),
        "compared_fields": sorted(present),
        **{k: round(v, 3) for k, v in timings.items()},
        "total_seconds": round(time.monotonic() - started, 3),
    }
    return ToolResult(assignments=assignments, pairs=pairs, model=model, stats=stats)


def resolve_file(
    path: str | Path,
    mapping: Mapping[str, str],
    other_path: str | Path | None = None,
    out: str | Path | None = None,
    pairs_out: str | Path | None = None,
    previous_path: str | Path | None = None,
    **options,
) -> ToolResult:
    """Resolve a CSV/Parquet file of person records (or link two) and write the results.

    Args:
        path: The (first) input file.
        mapping: Field → column name (see ``FIELDS``).
        other_path: A second file to link to, or None to deduplicate ``path``.
        out: Where to write the assignments (``.csv`` or ``.parquet``), or None not to write them.
        pairs_out: Where to write the scored pairs, or None.
        previous_path: An earlier assignments file whose customer ids are carried over.
        **options: Passed to ``resolve_frame`` (threshold, pair_threshold, model, max_pairs, seed).

    Returns:
        The same result as ``resolve_frame``; each input is named by its path in ``source_dataset``.

    Raises:
        ToolInputError: An unreadable file, bad mapping or missing column, named with the file.
    """
    for target in (out, pairs_out):
        if target is not None and Path(target).suffix.lower() not in _SUFFIXES:
            raise ToolInputError(
                f"{target}: unsupported output type '{Path(target).suffix}'; use .csv or .parquet"
            )
    records = read_table_file(path)
    other = read_table_file(other_path) if other_path is not None else None
    previous = read_table_file(previous_path) if previous_path is not None else None
    if previous is not None:
        missing = {"source_dataset", "record_id", "customer_id"} - set(previous.columns)
        if missing:
            raise ToolInputError(
                f"{previous_path}: missing column(s) {sorted(missing)}; give an earlier assignments file"
            )
    names = (Path(path).name, Path(other_path).name if other_path is not None else "")
    if names[0] == names[1]:
        names = (str(path), str(other_path))
    result = resolve_frame(records, mapping, other, previous=previous, names=names, **options)
    if out is not None:
        write_table_file(result.assignments, out)
    if pairs_out is not None:
        write_table_file(result.pairs, pairs_out)
    return result
