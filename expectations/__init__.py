"""Data-quality suites as code, validated with Great Expectations (GX Core 1.x).

Tables are validated as DataFrames read from the warehouse (GX's SQL datasource on DuckDB reports
false failures, see STACK.md). ``validate`` returns plain results so the orchestration layer
decides how they show and whether they block.
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from expectations._suites import SUITES, SuiteSpec, suite

__all__ = ["SUITES", "ExpectationOutcome", "SuiteOutcome", "SuiteSpec", "suite", "validate"]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result.

    Attributes:
        expectation: The GX expectation type and its column, e.g. ``expect_column_values_to_be_unique(record_id)``.
        success: Whether it held.
        unexpected_count: Rows that broke it (None for table-level expectations).
        observed: GX's observed value, when it reports one.
        sample: Up to 20 offending values (never shown in logs: may hold personal data).
        error: The exception text if GX could not evaluate it (counts as a failure).
    """

    expectation: str
    success: bool
    unexpected_count: int | None = None
    observed: Any = None
    sample: list = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    """A whole suite's result on one table.

    Attributes:
        suite: Suite name.
        success: True when every expectation held.
        rows: Rows validated.
        results: Per-expectation outcomes.
    """

    suite: str
    success: bool
    rows: int
    results: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """The expectations that did not hold."""
        return [r for r in self.results if not r.success]


def _describe(config: Any) -> str:
    kwargs = config.kwargs
    target = kwargs.get("column") or ",".join(kwargs.get("column_list", []) or []) or ""
    if "column_A" in kwargs:
        target = f"{kwargs['column_A']}>{kwargs['column_B']}"
    return f"{config.type}({target})"


def validate(frame: pd.DataFrame, spec: SuiteSpec) -> SuiteOutcome:
    """Validate a table against a suite.

    Args:
        frame: The table's rows.
        spec: The suite (see ``SUITES``).

    Returns:
        The suite outcome; expectations GX failed to evaluate count as failures with their error.
    """
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
        name=spec.name, expectations=[getattr(gxe, kind)(**kwargs) for kind, kwargs in spec.expectations]
    )
    result = batch.validate(
        gx_suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 20}
    )
    outcomes = []
    for item in result.results:
        details = item.result or {}
        error = (
            item.exception_info.get("exception_message")
            if item.exception_info.get("raised_exception")
            else None
        )
        outcomes.append(
            ExpectationOutcome(
                expectation=_describe(item.expectation_config),
                success=bool(item.success) and error is None,
                unexpected_count=details.get("unexpected_count"),
                observed=None if details.get("observed_value") is None else str(details["observed_value"]),
                sample=[str(v) for v in (details.get("partial_unexpected_list") or [])[:20]],
                error=error,
            )
        )
    return SuiteOutcome(
        suite=spec.name, success=all(o.success for o in outcomes), rows=len(frame), results=outcomes
    )
