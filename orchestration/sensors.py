"""Sensors: start the pipeline when files land."""

import dagster as dg

from connectors.files import SOURCES
from orchestration.jobs import cdp_pipeline
from orchestration.settings import Settings


@dg.sensor(job=cdp_pipeline, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Run the pipeline when a file in the landing folder is added or changed since the last run."""
    landing = Settings.from_env().landing_dir
    newest = 0.0
    for src in SOURCES:
        for path in landing.glob(src.pattern):
            newest = max(newest, path.stat().st_mtime)
    last = float(context.cursor or 0)
    if newest <= last:
        return dg.SkipReason(f"no new or changed files under the landing folder since {last:.0f}")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"landing-{newest:.0f}")
