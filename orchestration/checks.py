"""Quality suites and the identity-graph health check as Dagster asset checks.

Each suite becomes a check on its table; blocking suites fail with severity ERROR and Dagster
skips everything downstream. Every outcome is also written to ``quality.check_results`` (failing
row keys to ``quality.check_failures``), so stewards see the history outside Dagster.

A check whose inputs are unchanged since its last validation is not validated again: it reports
that validation's outcome (same pass/fail, severity and figures, so a failing blocking check still
blocks) with ``revalidated: false`` and the run it comes from. A run tagged
``cdp/quality_revalidate=true`` validates every check.
"""

import dagster as dg

import expectations
from connectors import warehouse
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

REVALIDATE_TAG = "cdp/quality_revalidate"


def _results_table(outcome: expectations.SuiteOutcome) -> str:
    lines = ["| expectation | result | unexpected rows | observed |", "|---|---|---|---|"]
    for r in outcome.results:
        unexpected = "" if r.unexpected_count is None else r.unexpected_count
        observed = f"error: {r.error}" if r.error else (r.observed or "")
        lines.append(f"| {r.expectation} | {'pass' if r.success else 'FAIL'} | {unexpected} | {observed} |")
    return "\n".join(lines)


def _log_failures(context: dg.AssetCheckExecutionContext, outcome: expectations.SuiteOutcome) -> None:
    for failed in outcome.failed:
        # Counts and rule names only: offending values may be personal data.
        context.log.warning(
            f"{outcome.suite}: {failed.expectation} failed"
            + (f" on {failed.unexpected_count} row(s)" if failed.unexpected_count else "")
            + (f" ({failed.error})" if failed.error else "")
            + "; failing keys are in quality.check_failures"
        )


def _revalidate(context: dg.AssetCheckExecutionContext) -> bool:
    return context.run.tags.get(REVALIDATE_TAG, "").lower() == "true"


def _log_carry_over(context: dg.AssetCheckExecutionContext, outcome: expectations.SuiteOutcome) -> None:
    source = outcome.carried_over_from
    if source is not None:
        context.log.info(f"{outcome.suite}: not re-validated, its inputs are unchanged since run {source}")


def _result(
    context: dg.AssetCheckExecutionContext,
    spec: expectations.SuiteSpec,
    outcome: expectations.SuiteOutcome,
    **metadata,
) -> dg.AssetCheckResult:
    carried_from = outcome.carried_over_from
    provenance = {
        "revalidated": carried_from is None,
        "validated_in_run": carried_from or context.run.run_id,
    }
    if carried_from is not None:
        provenance["not_revalidated_because"] = f"inputs unchanged since run {carried_from}"
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": outcome.rows,
            "expectations": len(outcome.results),
            "failed_expectations": len(outcome.failed),
            "results": dg.MetadataValue.md(_results_table(outcome)),
            **metadata,
            **provenance,
        },
    )


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
        settings = cdp.load()
        with warehouse.connect(settings.warehouse_path) as con:
            outcome = expectations.check_table(
                con,
                spec,
                run_id=context.run.run_id,
                as_of=settings.as_of(),
                max_volume_change=settings.quality_max_volume_change,
                revalidate=_revalidate(context),
            )
        _log_carry_over(context, outcome)
        _log_failures(context, outcome)
        return _result(context, spec, outcome)

    return _gx_check


_HEALTH = expectations.IDENTITY_HEALTH_SUITE


@dg.asset_check(
    asset=dg.AssetKey(list(_HEALTH.table)),
    name=_HEALTH.name,
    description=_HEALTH.description,
    blocking=True,
    pool=WAREHOUSE_POOL,
)
def identity_graph_health(context: dg.AssetCheckExecutionContext, cdp: CdpSettings) -> dg.AssetCheckResult:
    """Cluster sizes and merge rate of the identity graph; blocks when the merge rate jumps."""
    settings = cdp.load()
    with warehouse.connect(settings.warehouse_path) as con:
        health = expectations.check_identity_health(
            con,
            context.run.run_id,
            max_change=settings.identity_max_merge_rate_change,
            revalidate=_revalidate(context),
        )
    _log_carry_over(context, health.outcome)
    _log_failures(context, health.outcome)
    return _result(
        context,
        _HEALTH,
        health.outcome,
        customers=health.customers,
        largest_cluster=health.largest_cluster,
        share_of_records_merged=dg.MetadataValue.float(round(health.share_merged, 4)),
        merge_rate=dg.MetadataValue.float(round(health.merge_rate, 4)),
        previous_merge_rate=dg.MetadataValue.float(round(health.previous_merge_rate, 4))
        if health.previous_merge_rate is not None
        else dg.MetadataValue.text("first run"),
        cluster_size_distribution=dg.MetadataValue.json(health.size_distribution),
    )


gx_checks = [*(_check(spec) for spec in expectations.SUITES), identity_graph_health]
