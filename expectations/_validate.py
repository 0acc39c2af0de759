"""Validating one table against its suite: GX expectations plus the checks GX lacks.

Tables are validated as DataFrames read from the warehouse (GX's SQL datasource on DuckDB reports
false failures, see STACK.md). GX's type expectations do not recognise pandas 3's string dtype,
so column types are checked with pandas; referential integrity and volume need other tables or
earlier runs and are computed here too, reported in the same outcome shape.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import pandas as pd
from pandas.api import types as ptypes

from expectations._spec import Reference, SuiteSpec

# Most failing row keys kept per failed expectation (for stewards; never logged).
MAX_FAILING_KEYS = 1000
DEFAULT_MAX_VOLUME_CHANGE = 0.5
EARLIEST_PLAUSIBLE = pd.Timestamp("2000-01-01")
TYPES_EXPECTATION = "expect_column_types_to_match_schema"
VOLUME_EXPECTATION = "expect_table_row_count_to_stay_within_change_of_previous_run"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result.

    Attributes:
        expectation: The expectation type and its column, e.g. ``expect_column_values_to_be_unique(record_id)``.
        success: Whether it held.
        unexpected_count: Rows that broke it (None for table-level expectations).
        observed: The observed value, when there is one.
        sample: Up to 20 offending values (never shown in logs: may hold personal data).
        error: The exception text if it could not be evaluated (counts as a failure).
        failing_keys: Key values (``spec.key`` joined by ``|``, else the row index) of up to
            ``MAX_FAILING_KEYS`` offending rows.
    """

    expectation: str
    success: bool
    unexpected_count: int | None = None
    observed: Any = None
    sample: list = field(default_factory=list)
    error: str | None = None
    failing_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SuiteOutcome:
    """A whole suite's result on one table.

    Attributes:
        suite: Suite name.
        success: True when every expectation held.
        rows: Rows validated.
        results: Per-expectation outcomes.
        carried_over_from: The run whose validation this outcome repeats because nothing it depends
            on changed since (its results then hold no ``sample`` or ``failing_keys``; the keys stay
            in ``quality.check_failures``), or None when it was validated now.
    """

    suite: str
    success: bool
    rows: int
    results: list[ExpectationOutcome]
    carried_over_from: str | None = None

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """The expectations that did not hold."""
        return [r for r in self.results if not r.success]


def key_column(spec: SuiteSpec) -> str:
    """Name the key the failing rows of ``spec`` are reported by (columns joined by ``,``)."""
    return ",".join(spec.key) if spec.key else "row_index"


def _describe(config: Any) -> str:
    kwargs = config.kwargs
    target = kwargs.get("column") or ",".join(kwargs.get("column_list", []) or []) or ""
    if "column_A" in kwargs:
        target = f"{kwargs['column_A']}>{kwargs['column_B']}"
    return f"{config.type}({target})"


def _latest_event_time(as_of: date) -> pd.Timestamp:
    """The latest event time accepted: the future starts tomorrow, and an as-of date in the past
    must not reject today's load times (so this moves with today, not only with the as-of date)."""
    return pd.Timestamp(max(as_of, date.today()) + timedelta(days=1))


def validation_inputs(spec: SuiteSpec, as_of: date, max_volume_change: float) -> dict:
    """Everything besides the tables that decides ``validate``'s outcome, to fingerprint a check.

    Args:
        spec: The suite.
        as_of: The date freshness is measured from.
        max_volume_change: The volume tolerance.

    Returns:
        The suite (its repr: names, rules, keys, references), the as-of date, the latest event
        time accepted when the suite checks timestamps, and the tolerance when it checks volume.
    """
    return {
        "suite": repr(spec),
        "as_of": as_of.isoformat(),
        "latest_event_time": str(_latest_event_time(as_of)) if spec.timestamps else None,
        "max_volume_change": max_volume_change if spec.volume else None,
    }


def _gx_expectations(spec: SuiteSpec, as_of: date) -> list[tuple[str, dict]]:
    """The spec's GX expectations, with the key, schema, date and freshness rules it implies."""
    rules: list[tuple[str, dict]] = [("ExpectColumnValuesToNotBeNull", {"column": c}) for c in spec.key]
    if len(spec.key) == 1:
        rules.append(("ExpectColumnValuesToBeUnique", {"column": spec.key[0]}))
    elif spec.key:
        rules.append(("ExpectCompoundColumnsToBeUnique", {"column_list": list(spec.key)}))
    if spec.columns:
        rules.append(
            ("ExpectTableColumnsToMatchSet", {"column_set": list(spec.columns), "exact_match": False})
        )
    rules.extend(spec.expectations)
    latest = _latest_event_time(as_of)
    rules.extend(
        ("ExpectColumnValuesToBeBetween", {"column": c, "min_value": EARLIEST_PLAUSIBLE, "max_value": latest})
        for c in spec.timestamps
    )
    if spec.freshness:
        oldest = pd.Timestamp(as_of - timedelta(days=spec.freshness.max_age_days))
        rules.append(("ExpectColumnMaxToBeBetween", {"column": spec.freshness.column, "min_value": oldest}))
    return rules


def _key_value(entry: Any, key: tuple[str, ...]) -> str:
    if isinstance(entry, dict) and key:
        return "|".join(str(entry.get(k)) for k in key)
    return str(entry)


def _run_gx(frame: pd.DataFrame, spec: SuiteSpec, as_of: date) -> list[ExpectationOutcome]:
    import great_expectations as gx  # takes seconds to import; only paid when validating
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name="cdp")
        .add_dataframe_asset(name=spec.name)
        .add_batch_definition_whole_dataframe(name="whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    gx_suite = gx.ExpectationSuite(
        name=spec.name,
        expectations=[getattr(gxe, kind)(**kwargs) for kind, kwargs in _gx_expectations(spec, as_of)],
    )
    key = spec.key if set(spec.key) <= set(frame.columns) else ()
    result_format: dict = {"result_format": "COMPLETE", "partial_unexpected_count": 20}
    if key:
        result_format["unexpected_index_column_names"] = list(key)
    result = batch.validate(gx_suite, result_format=result_format)
    outcomes = []
    for item in result.results:
        details = item.result or {}
        error = (
            item.exception_info.get("exception_message")
            if item.exception_info.get("raised_exception")
            else None
        )
        index = details.get("unexpected_index_list") or []
        outcomes.append(
            ExpectationOutcome(
                expectation=_describe(item.expectation_config),
                success=bool(item.success) and error is None,
                unexpected_count=details.get("unexpected_count"),
                observed=None if details.get("observed_value") is None else str(details["observed_value"]),
                sample=[str(v) for v in (details.get("partial_unexpected_list") or [])[:20]],
                error=error,
                failing_keys=[] if item.success else [_key_value(e, key) for e in index[:MAX_FAILING_KEYS]],
            )
        )
    return outcomes


def _type_matches(series: pd.Series, family: str) -> bool:
    values = series.dropna()
    if family == "integer":
        return ptypes.is_integer_dtype(series)
    if family == "number":
        return ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series)
    if family == "timestamp":
        return ptypes.is_datetime64_any_dtype(series)
    if family == "boolean":
        return ptypes.is_bool_dtype(series)
    if family == "list":
        return series.dtype == object and all(
            isinstance(v, list | tuple) or hasattr(v, "tolist") for v in values
        )
    # text: pandas 3's str dtype, or an object column holding only strings (e.g. all missing)
    return ptypes.is_string_dtype(series) or (
        series.dtype == object and all(isinstance(v, str) for v in values)
    )


def _check_types(frame: pd.DataFrame, spec: SuiteSpec) -> ExpectationOutcome:
    wrong = [
        f"{column}: {frame[column].dtype} (expected {family})"
        for column, family in (spec.columns or {}).items()
        if column in frame.columns and not _type_matches(frame[column], family)
    ]
    return ExpectationOutcome(
        expectation=f"{TYPES_EXPECTATION}()",
        success=not wrong,
        unexpected_count=len(wrong),
        observed="; ".join(wrong) or "all expected columns have their type",
    )


def _check_reference(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, spec: SuiteSpec, ref: Reference
) -> ExpectationOutcome:
    from connectors.warehouse import qualified, table_exists

    schema, table = ref.table
    name = f"expect_column_values_to_exist_in({ref.column}->{schema}.{table}.{ref.target_column})"
    if not table_exists(con, schema, table):
        return ExpectationOutcome(name, False, error=f"referenced table {schema}.{table} does not exist")
    if ref.column not in frame.columns:
        return ExpectationOutcome(name, False, error=f"column {ref.column} is missing")
    key = list(spec.key) if set(spec.key) <= set(frame.columns) else []
    picked = frame[[*dict.fromkeys([*key, ref.column])]].reset_index(names="_row_index")
    con.register("_validated", picked)
    try:
        orphans = con.execute(
            f'SELECT * FROM _validated v WHERE v."{ref.column}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM {qualified(schema, table)} r WHERE r."{ref.target_column}" = v."{ref.column}")'
        ).df()
    except duckdb.Error as error:
        # The class only: DuckDB's message may quote the offending value, which may be personal data.
        reason = f"{ref.column} cannot be compared with {schema}.{table}.{ref.target_column} ({type(error).__name__})"
        return ExpectationOutcome(name, False, error=reason)
    finally:
        con.unregister("_validated")
    keys = orphans[key].astype(str).agg("|".join, axis=1) if key else orphans["_row_index"].astype(str)
    return ExpectationOutcome(
        expectation=name,
        success=orphans.empty,
        unexpected_count=len(orphans),
        observed=f"{len(orphans)} orphan row(s)",
        sample=[str(v) for v in orphans[ref.column].head(20)],
        failing_keys=list(keys.head(MAX_FAILING_KEYS)),
    )


def _check_volume(rows: int, previous_rows: int | None, max_change: float) -> ExpectationOutcome:
    name = f"{VOLUME_EXPECTATION}()"
    if not previous_rows:
        return ExpectationOutcome(name, True, observed=f"{rows} rows; no earlier run to compare with")
    change = (rows - previous_rows) / previous_rows
    return ExpectationOutcome(
        expectation=name,
        success=abs(change) <= max_change,
        observed=f"{rows} rows; previous run {previous_rows} ({change:+.1%}, allowed ±{max_change:.0%})",
    )


def validate(
    frame: pd.DataFrame,
    spec: SuiteSpec,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    as_of: date | None = None,
    previous_rows: int | None = None,
    max_volume_change: float = DEFAULT_MAX_VOLUME_CHANGE,
) -> SuiteOutcome:
    """Validate a table against a suite.

    Args:
        frame: The table's rows.
        spec: The suite (see ``SUITES``).
        con: Warehouse connection holding the tables ``spec.references`` point at (required when
            the suite has references).
        as_of: The date freshness is measured from (default today).
        previous_rows: Rows the table had at the last run whose volume check passed, or None.
        max_volume_change: Largest relative change in row count accepted (0.5 = ±50 %).

    Returns:
        The suite outcome; expectations that could not be evaluated count as failures with their error.

    Raises:
        ValueError: The suite has references and no connection was given.
    """
    if spec.references and con is None:
        raise ValueError(f"suite {spec.name} checks references: pass the warehouse connection")
    as_of = as_of or date.today()
    outcomes = _run_gx(frame, spec, as_of)
    if spec.columns:
        outcomes.append(_check_types(frame, spec))
    outcomes.extend(_check_reference(con, frame, spec, ref) for ref in spec.references)
    if spec.volume:
        outcomes.append(_check_volume(len(frame), previous_rows, max_volume_change))
    return SuiteOutcome(
        suite=spec.name, success=all(o.success for o in outcomes), rows=len(frame), results=outcomes
    )
