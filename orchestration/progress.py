"""A Dagster logger that prints one concise line per step, materialization and check."""

import logging
import sys
import time

import dagster as dg

_SHOWN = {
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_FAILURE",
    "STEP_SKIPPED",
    "ASSET_MATERIALIZATION",
    "ASSET_CHECK_EVALUATION",
}


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None:
            if record.levelno >= logging.WARNING:
                sys.stdout.write(
                    f"    ! {getattr(record, 'dagster_meta', {}).get('orig_message', record.getMessage())}\n"
                )
            return
        kind = event.event_type_value
        if kind not in _SHOWN:
            return
        step = event.step_key or ""
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            line = f"  ▶ {step}"
        elif kind in {"STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"}:
            took = time.monotonic() - self.started.get(step, time.monotonic())
            mark = {"STEP_SUCCESS": "✓", "STEP_FAILURE": "✗", "STEP_SKIPPED": "–"}[kind]
            line = f"  {mark} {step} ({took:.1f}s)"
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            rows = materialization.metadata.get("dagster/row_count")
            count = f" ({rows.value:,} rows)" if rows is not None else ""
            line = f"      {materialization.asset_key.to_user_string()}{count}"
        else:
            evaluation = event.event_specific_data
            verdict = "passed" if evaluation.passed else "FAILED"
            line = f"      check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {verdict}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@dg.logger(description="One line per step, materialization and check, for terminals.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """Build the concise terminal logger."""
    logger = logging.getLogger("cdp.progress")
    logger.handlers = [_ProgressHandler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
