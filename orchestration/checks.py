"""Great Expectations suites as Dagster asset checks; blocking suites gate everything downstream."""

import dagster as dg

import expectations
from connectors import warehouse
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings


def _results_table(outcome: expectations.SuiteOutcome) -> str:
    lines = ["| expectation | result | unexpected rows | observed |", "|---|---|---|---|"]
    for r in outcome.results:
        unexpected = "" if r.unexpected_count is None else r.unexpected_count
        lines.append(
            f"| {r.expectation} | {'pass' if r.success else 'FAIL'} | {unexpected} | {r.observed or ''} |"
        )
    return "\n".join(lines)


def _check(spec: expectations.SuiteSpec) -> dg.AssetChecksDefinition:
    schema, table = spec.table

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=spec.name,
        description=spec.description,
        blocking=spec.blocking,
        pool=WAREHOUSE_POOL,
    )
    def _gx_check(context: dg.AssetCheckExecutionContext, cdp: CdpSettings) -> dg.AssetCheckResult:
        with warehouse.connect(cdp.load().warehouse_path) as con:
            frame = warehouse.read_table(con, schema, table)
        outcome = expectations.validate(frame, spec)
        for failed in outcome.failed:
            # Counts and rule names only: offending values may be personal data.
            context.log.warning(
                f"{spec.name}: {failed.expectation} failed"
                + (f" on {failed.unexpected_count} row(s)" if failed.unexpected_count is not None else "")
                + (f" ({failed.error})" if failed.error else "")
            )
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_validated": outcome.rows,
                "expectations": len(outcome.results),
                "failed_expectations": len(outcome.failed),
                "results": dg.MetadataValue.md(_results_table(outcome)),
            },
        )

    return _gx_check


gx_checks = [_check(spec) for spec in expectations.SUITES]
