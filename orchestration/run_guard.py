"""Keep ``cdp run`` safe to kill, to interrupt and to start twice.

Dagster records a claimed pool slot in DAGSTER_HOME until the run that claimed it frees it. A run
whose process was killed never does, and since every warehouse step shares the pool
``duckdb_warehouse`` (limit 1), every later run then waits for that slot forever. So:

- each run holds a *liveness lock* (``DAGSTER_HOME/cdp_live_runs/<run_id>.lock``) while it
  executes. The kernel drops the lock when the process dies, even by ``kill -9``, so the next
  run can tell a dead run from a live one without trusting pids; it marks dead runs failed and
  frees their slots (``free_dead_runs``), after stopping what the run's process left running
  (a dbt build still writing the warehouse). Runs without a liveness lock (started by an older
  ``cdp run`` or by the Dagster UI) are judged by the pid Dagster recorded for their process.
- a lock file next to the warehouse lets only one ``cdp run`` at a time write it
  (``warehouse_lock``); DuckDB allows one writer.
- SIGINT and SIGTERM stop the run wherever it is (``stopping_on_signals``, ``guarded_run``).
  Dagster's in-process executor defers a signal to the start of the next step, and a step
  waiting for a pool slot never starts, so a signal that Dagster has not acted on within a
  second is raised in the main thread as an execution interrupt, which Dagster handles as it
  handles one inside a step.
"""

import fcntl
import logging
import os
import select
import signal
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

# Private, but the only view of (and hold on) a signal no step has acted on yet; Dagster is pinned.
from dagster._utils.interrupts import check_captured_interrupt, pop_captured_interrupt

log = logging.getLogger(__name__)

LIVE_RUNS_DIR = "cdp_live_runs"
"""Folder under DAGSTER_HOME holding one liveness lock per executing run."""

RUN_ID_ENV = "CDP_RUN_ID"
"""Set while a run executes, so its child processes (dbt) carry it: a killed run's leftovers are found by it."""

PID_TAG = "cdp/pid"
HOST_TAG = "cdp/host"
STOPPED_BY_TAG = "cdp/stopped_by"

BUSY_EXIT_CODE = 75
"""Exit status when the warehouse is in use (EX_TEMPFAIL: try again later)."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Dagster leaves SIGUSR1 alone; it carries the escalation from the watch thread to the main thread.
_ESCALATION_SIGNAL = signal.SIGUSR1
# Dagster starts the next step within milliseconds; only a wait (for a pool slot) outlasts this.
_ESCALATE_AFTER_SECONDS = 1.0
_WATCH_POLL_SECONDS = 0.1
_LEFTOVER_GRACE_SECONDS = 10.0
# /proc start times are whole clock ticks after a boot time given in whole seconds.
_START_TIME_TOLERANCE_SECONDS = 1.0


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse; the message names it and says what to do."""


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``cdp run``; like KeyboardInterrupt, no ``except Exception`` swallows it.

    Attributes:
        signum: The signal received.
        run_id: The Dagster run it stopped, or None when no run had been created yet.
        status: That run's final status in the run storage, or None.
    """

    def __init__(self, signum: int, run_id: str | None = None, status: dg.DagsterRunStatus | None = None):
        super().__init__(signum)
        self.signum = signum
        self.run_id = run_id
        self.status = status

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + the signal number."""
        return 128 + self.signum

    def __str__(self) -> str:
        text = f"stopped by {signal.Signals(self.signum).name}"
        if self.run_id is None:
            return text
        status = self.status.value if self.status is not None else "unknown"
        # Short enough for one terminal line; the UI and `dagster` commands show runs by this prefix.
        return f"{text}: run {self.run_id[:8]} ended as {status}, pool slots freed"


class _Escalated(dg.DagsterExecutionInterruptedError):
    """Raised in the main thread when Dagster left a SIGINT/SIGTERM unhandled while waiting."""


_INTERRUPT_ERRORS = frozenset(
    cls.__name__ for cls in (KeyboardInterrupt, dg.DagsterExecutionInterruptedError, _Escalated)
)


def owner_tags() -> dict[str, str]:
    """Run tags naming the process that executes the run, shown in the Dagster UI and in recovery messages.

    Returns:
        ``cdp/pid`` and ``cdp/host`` of this process.
    """
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def without_interrupt_stacks(
    job: dg.JobDefinition, instance: dg.DagsterInstance
) -> tuple[dg.JobDefinition, dict[str, Any]]:
    """The job with a console logger that prints a signal-caused failure in one line, without a stack.

    Dagster logs the step and the run that a signal stopped as failures with a stack trace; a
    user who pressed Ctrl-C needs to read that it was interrupted, not where the code was.
    Dagster only builds the loggers named in the run config, so the logger comes with one.

    Args:
        job: The job to run.
        instance: The instance it runs in (its ``python_log_level`` is kept, as Dagster's default does).

    Returns:
        A copy of ``job`` whose ``console`` logger leaves out those stack traces, and the run
        config that selects it.
    """
    level = instance.python_log_level or "DEBUG"
    run_config = {"loggers": {"console": {"config": {"name": "dagster", "log_level": level}}}}
    return job.with_logger_defs({**job.loggers, "console": _console_logger}), run_config


@dg.logger(
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's colored console logger, without the stack trace of an interrupted step or run.",
)
def _console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = dg.colored_console_logger.logger_fn(init_context)
    logger.addFilter(_shorten_interrupt)
    return logger


def _shorten_interrupt(record: logging.LogRecord) -> bool:
    meta = getattr(record, "dagster_meta", None)
    event = meta.get("dagster_event") if isinstance(meta, dict) else None
    error = getattr(event.event_specific_data, "error", None) if event is not None else None
    if error is not None and error.cls_name in _INTERRUPT_ERRORS:
        # Dagster appends the error after a blank line; the line before it names the step or run.
        head = str(record.msg).split("\n\n", 1)[0]
        record.msg = f"{head} (interrupted by a signal)"
    return True


@contextmanager
def warehouse_lock(warehouse_path: Path, holder: str = "cdp run") -> Iterator[None]:
    """Hold the warehouse for this process, or fail at once if another process holds it.

    The lock is an ``flock`` on ``<warehouse>.lock``: the kernel releases it when the process
    ends, however it ends, so a killed run never leaves it behind.

    Args:
        warehouse_path: The DuckDB warehouse file.
        holder: What holds it, written into the lock file for the message another process shows.

    Raises:
        WarehouseBusy: Another process holds the lock.
    """
    lock_path = warehouse_path.with_name(warehouse_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip() or "another process"
            raise WarehouseBusy(
                f"{warehouse_path} is in use by {other}; wait for it to finish (or stop it), then run again"
            ) from None
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()} on {socket.gethostname()}, since {started})".encode(), 0)
        yield
    finally:
        os.close(fd)


def free_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs whose process is gone failed and free the pool slots they hold or wait for.

    Looks at every run holding or waiting for a slot in a pool, and at every run with a liveness
    lock. A run is dead when its liveness lock is free; a run without one (an older ``cdp run``,
    a UI run) when the process Dagster recorded for it no longer exists, or is a newer process
    that reuses its pid. A run that is alive, or whose process cannot be checked, is left alone
    and named, since this run will wait for its slots.

    Args:
        instance: The Dagster instance (DAGSTER_HOME); an ephemeral one holds no old runs.

    Returns:
        The log lines: one per run freed, and one per live or unknown run holding slots.
    """
    if instance.is_ephemeral:
        return []
    storage = instance.event_log_storage
    pools: dict[str, set[str]] = defaultdict(set)
    if storage.supports_global_concurrency_limits:
        keys = sorted(storage.get_concurrency_keys())
        for pool, info in storage.get_concurrency_infos(keys).items():
            for run_id in {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}:
                pools[run_id].add(pool)
    live_dir = Path(instance.root_directory) / LIVE_RUNS_DIR
    tracked = {path.stem for path in live_dir.glob("*.lock")}
    lines = []
    for run_id in sorted(pools.keys() | tracked):
        line = _recover(instance, run_id, sorted(pools[run_id]), live_dir / f"{run_id}.lock")
        if line is not None:
            log.warning(line)
            lines.append(line)
    return lines


def _recover(instance: dg.DagsterInstance, run_id: str, pools: list[str], lock_path: Path) -> str | None:
    """Free the run if its process is gone; the line to log about it, or None when there is none."""
    record = instance.get_run_record_by_id(run_id)
    since = _describe_since(record)
    where = f" in pool {', '.join(pools)}" if pools else ""
    alive, dead_lock = _probe_liveness_lock(lock_path)
    if alive is None and dead_lock is None:
        alive, owner = _owner_alive(instance, run_id, record)
    else:
        owner = _owner_from_tags(record)
    try:
        if alive is None:
            return (
                f"run {run_id} (started {since}) holds or waits for slots{where}, and its process "
                "cannot be checked; if that run is gone, free its slots in the Dagster UI (Concurrency)"
            )
        if alive:
            # A live run holding no slot (a cdp run on another warehouse) is no concern of this run.
            return (
                f"run {run_id} (started {since} by {owner}, still running) holds or waits for "
                f"slots{where}; this run waits for them"
                if pools
                else None
            )
        done = []
        leftovers = _leftover_processes(run_id)
        if leftovers:
            _stop_processes(leftovers)
            done.append(f"stopped its leftover process(es) {', '.join(map(str, leftovers))}")
        if record is not None and not record.dagster_run.is_finished:
            instance.report_run_failed(
                record.dagster_run,
                message=f"The process running this run ({owner}) is gone; marked failed by a later cdp run.",
            )
            done.append("marked it failed")
        if pools:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            done.append(f"freed its slots{where}")
        if not done:
            # Its process died after Dagster recorded the outcome: only the lock file was left.
            return None
        return f"run {run_id} (started {since} by {owner}) is no longer alive: {_join(done)}"
    finally:
        if dead_lock is not None:
            lock_path.unlink(missing_ok=True)
            os.close(dead_lock)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _probe_liveness_lock(path: Path) -> tuple[bool | None, int | None]:
    """(alive, fd): (None, None) without a lock file; a dead run's lock comes back held, to remove."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True, None
    return False, fd


def _owner_alive(
    instance: dg.DagsterInstance, run_id: str, record: dg.RunRecord | None
) -> tuple[bool | None, str]:
    """For a run without a liveness lock: whether its process lives (None: unknown), and which it is."""
    if record is None:
        # The run was deleted but its slots were not: nothing can be running them.
        return False, "a deleted run"
    pid = _recorded_pid(instance, run_id)
    if pid is None:
        return None, "an unknown process"
    return _pid_alive(pid, record.create_timestamp.timestamp()), f"pid {pid}"


def _owner_from_tags(record: dg.RunRecord | None) -> str:
    tags = record.dagster_run.tags if record is not None else {}
    if PID_TAG not in tags:
        return "an unknown process"
    return f"pid {tags[PID_TAG]} on {tags.get(HOST_TAG, 'an unknown host')}"


def _describe_since(record: dg.RunRecord | None) -> str:
    if record is None:
        return "at an unknown time"
    at = datetime.fromtimestamp(record.start_time, UTC) if record.start_time else record.create_timestamp
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _recorded_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the run's process, from the first engine event that records one."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None:
            with suppress(TypeError, ValueError):
                return int(pid.value)
    return None


def _pid_alive(pid: int, run_created_at: float) -> bool:
    """Whether ``pid`` exists and, where /proc tells, started before the run was created (so is its process)."""
    if not _exists(pid):
        return False
    started = _process_started_at(pid)
    return started is None or started <= run_created_at + _START_TIME_TOLERANCE_SECONDS


def _process_started_at(pid: int) -> float | None:
    """Epoch seconds the process started, from Linux /proc; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    except (OSError, StopIteration):
        return None
    # Fields after the parenthesised command name; the start time (field 22 of stat) is the 20th.
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


def _leftover_processes(run_id: str) -> list[int]:
    """Processes a dead run started that still live (a dbt build writing the warehouse), from /proc."""
    marker = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0") and _exists(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _stop_processes(pids: list[int]) -> None:
    """SIGTERM (and SIGCONT, for stopped ones), then SIGKILL what is left after a grace period."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + _LEFTOVER_GRACE_SECONDS
    while (remaining := [p for p in pids if _exists(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in remaining:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie awaiting its reaper has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``RunInterrupted`` in the main thread while the block runs.

    Dagster replaces these handlers while it executes a run and restores them after; in other
    threads this does nothing (signals are handled in the main thread only).

    Raises:
        RunInterrupted: From wherever the main thread is when a signal arrives.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _stop(signum: int, _frame) -> None:
        raise RunInterrupted(signum)

    previous = {signum: signal.signal(signum, _stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def guarded_run(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    """Execute one run so that no signal, crash or kill leaves it holding pool slots.

    While the block runs, the run's liveness lock is held and signals are watched. Whatever
    ends the block, afterwards the run is finished in the run storage (canceled when a signal
    stopped it before Dagster recorded an outcome, failed otherwise) and its slots are freed.

    Args:
        instance: The Dagster instance the run is recorded in.
        run_id: The id the block gives the run (``execute_in_process(run_id=...)``).

    Raises:
        RunInterrupted: SIGINT or SIGTERM arrived while the block ran; the run is already finished.
    """
    watch = _SignalWatch()
    stopped_by = None
    previous_env = os.environ.get(RUN_ID_ENV)
    os.environ[RUN_ID_ENV] = run_id
    with _liveness_lock(instance, run_id):
        try:
            with watch:
                yield
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as stop:
            stopped_by = stop.signum if isinstance(stop, RunInterrupted) else watch.signum or signal.SIGINT
        finally:
            if previous_env is None:
                os.environ.pop(RUN_ID_ENV, None)
            else:
                os.environ[RUN_ID_ENV] = previous_env
            stopped_by = stopped_by or watch.signum
            status = _finish(instance, run_id, stopped_by)
    if stopped_by is not None:
        raise RunInterrupted(stopped_by, run_id if status is not None else None, status)


@contextmanager
def _liveness_lock(instance: dg.DagsterInstance, run_id: str) -> Iterator[None]:
    if instance.is_ephemeral:
        yield
        return
    path = Path(instance.root_directory) / LIVE_RUNS_DIR / f"{run_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        # Unlink while still locked: a later run that opens the file before this finds it locked.
        path.unlink(missing_ok=True)
        os.close(fd)


def _finish(instance: dg.DagsterInstance, run_id: str, stopped_by: int | None) -> dg.DagsterRunStatus | None:
    """Finish the run in the run storage and free its slots; its final status (None: never created)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    if not run.is_finished:
        if stopped_by is not None:
            instance.report_run_canceled(run, message=f"Stopped by {signal.Signals(stopped_by).name}.")
        else:
            instance.report_run_failed(run, message="cdp run ended before Dagster recorded the outcome.")
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    if stopped_by is not None:
        instance.add_run_tags(run_id, {STOPPED_BY_TAG: signal.Signals(stopped_by).name})
    finished = instance.get_run_by_id(run_id)
    return finished.status if finished is not None else None


class _SignalWatch:
    """Notes which stop signal arrived during a Dagster execution and ends a wait Dagster would not end.

    Python writes the number of every signal it handles to the wakeup fd, whichever handler
    Dagster installed, so a thread reading it learns of each one. If Dagster still holds the
    signal unacted on (it acts when the next step starts) after ``_ESCALATE_AFTER_SECONDS``,
    the thread makes the main thread raise an execution interrupt.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._thread: threading.Thread | None = None
        self._armed = False

    def __enter__(self) -> "_SignalWatch":
        if threading.current_thread() is not threading.main_thread():
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous_handler = signal.signal(_ESCALATION_SIGNAL, self._interrupt)
        self._armed = True
        self._thread = threading.Thread(target=self._watch, name="cdp-signal-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        if self._thread is None:
            return
        # Disarm before stopping the thread: an escalation already on its way must not raise here.
        self._armed = False
        signal.set_wakeup_fd(self._previous_fd)
        self._writer.close()
        self._thread.join(timeout=5)
        self._reader.close()
        signal.signal(_ESCALATION_SIGNAL, self._previous_handler)

    def _interrupt(self, _signum: int, _frame) -> None:
        if self._armed:
            raise _Escalated()

    def _watch(self) -> None:
        main = threading.main_thread().ident
        unhandled_since = None
        escalated = False
        while True:
            ready, _, _ = select.select([self._reader], [], [], _WATCH_POLL_SECONDS)
            if ready:
                received = self._reader.recv(64)
                if not received:
                    return
                stops = [s for s in received if s in STOP_SIGNALS]
                if stops and self.signum is None:
                    self.signum = stops[0]
            if escalated or not check_captured_interrupt():
                unhandled_since = None
                continue
            unhandled_since = unhandled_since or time.monotonic()
            # Taking Dagster's flag lets the run's teardown proceed instead of re-raising it.
            if time.monotonic() - unhandled_since >= _ESCALATE_AFTER_SECONDS and pop_captured_interrupt():
                signal.pthread_kill(main, _ESCALATION_SIGNAL)
                escalated = True
