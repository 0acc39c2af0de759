"""Configuration from environment variables, with safe local defaults.

Read when resources are built or a command runs, never at import time. Every variable is listed
in the README and in ``.env.example``; relative paths are taken from the current directory.
"""

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connectors import warehouse
from connectors.files import IngestLimits
from connectors.sync import MODES, SqlCrmTarget, SyncPolicy

# Every variable the project reads, with its default and meaning (the README table mirrors it).
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "CDP_WAREHOUSE_PATH": ("data/warehouse.duckdb", "DuckDB warehouse file"),
    "CDP_CRM_URL": (
        "sqlite:///data/sample/crm.sqlite",
        "SQLAlchemy URL of the CRM database (source and sync)",
    ),
    "CDP_CRM_SCHEMA": ("", "Database schema holding the CRM tables, if not the default"),
    "CDP_LANDING_DIR": ("data/sample", "Folder the file sources are read from"),
    "CDP_IDENTITY_MODEL": ("", "Splink model JSON (default: identity/models/person_model.json)"),
    "CDP_IDENTITY_THRESHOLD": ("0.95", "Minimum match probability for a probabilistic link"),
    "CDP_IDENTITY_OVERRIDES": ("", "Steward overrides YAML (default: identity/overrides.yaml)"),
    "CDP_IDENTITY_MODE": ("auto", "auto (link only new records when safe) or full (re-resolve everything)"),
    "CDP_IDENTITY_MAX_CLUSTER_SIZE": ("50", "Largest customer model links may build (0 = no limit)"),
    "CDP_IDENTITY_INCREMENTAL_MAX_SHARE": ("0.1", "Above this share of new records a full reconcile runs"),
    "CDP_SYNC_MODE": ("side_table", "side_table (custom-fields table) or columns (existing CRM table)"),
    "CDP_SYNC_TABLE": ("cdp_contact_fields", "CRM table the sync writes (may be schema-qualified)"),
    "CDP_SYNC_KEY_COLUMN": ("contact_id", "Contact key column in that table"),
    "CDP_SYNC_WRITE_MODE": ("upsert", "upsert, update_only, create_only or mirror"),
    "CDP_SYNC_MAX_CHANGE_SHARE": ("0.5", "Max share of synced records a run may update/delete"),
    "CDP_SYNC_OVERWRITE_NULLS": ("false", "true lets a missing value clear a CRM value"),
    "CDP_SYNC_CRM_OWNED_FIELDS": (
        "",
        "Comma-separated destination fields the CRM owns (the sync-timestamp column too); never written",
    ),
    "CDP_SYNC_DRY_RUN": ("false", "true: sync and HubSpot list assets plan changes and write nothing"),
    "CDP_HUBSPOT_TOKEN": (
        "",
        "HubSpot private-app token; unset: raw_hubspot.* written empty, no HubSpot sync or list assets",
    ),
    "CDP_HUBSPOT_BASE_URL": ("https://api.hubapi.com", "HubSpot API root (a sandbox or test server)"),
    "CDP_HUBSPOT_RATE_LIMIT": ("100", "HubSpot requests per 10 s the client stays under"),
    "CDP_AS_OF_DATE": ("", "Date the marts are computed as of (YYYY-MM-DD; empty = today)"),
    "CDP_QUALITY_MAX_VOLUME_CHANGE": (
        "0.5",
        "Max relative change in a table's row count since the last passing run (0.5 = ±50 %)",
    ),
    "CDP_INGEST_EARLIEST_DATE": (
        "2000-01-01",
        "Earliest plausible date in any source row; earlier ones are quarantined",
    ),
    "CDP_INGEST_MAX_FUTURE_DAYS": (
        "1",
        "Days after the as-of date a source date may fall; later ones are quarantined",
    ),
    "CDP_INGEST_MAX_FIELD_BYTES": (
        "131072",
        "Largest CSV field or JSON line (bytes); a larger row is quarantined, the file goes on",
    ),
    "CDP_DUCKDB_MEMORY_LIMIT": (
        "80%",
        "DuckDB memory limit for the warehouse and dbt (e.g. 6GB or 50%); larger work spills to disk",
    ),
    "CDP_DUCKDB_TEMP_DIR": ("", "Folder DuckDB spills to (default: <warehouse>.tmp beside the file)"),
    "CDP_IDENTITY_MAX_MERGE_RATE_CHANGE": (
        "0.10",
        "Max absolute change in the identity merge rate since the last passing run (blocks)",
    ),
}


def _get(name: str) -> str:
    return os.environ.get(name, "").strip() or ENVIRONMENT[name][0]


def _sqlite_absolute(url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(Path(url[len(prefix) :]).resolve())
    return url


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one run.

    Attributes:
        warehouse_path: Absolute path of the DuckDB warehouse.
        crm_url: SQLAlchemy URL of the CRM (may hold a password: never log it).
        crm_schema: CRM schema, or None.
        landing_dir: Absolute landing folder.
        identity_model: Splink model JSON, or None for the packaged one.
        identity_threshold: Match probability threshold.
        identity_overrides: Steward overrides YAML, or None for the packaged one.
        sync_mode: ``side_table`` or ``columns``.
        sync_table: CRM table the sync writes.
        sync_key_column: Contact key column of that table.
        as_of_date: The marts' as-of date, or "" for today.
        sync_write_mode: Sync engine mode (upsert, update_only, create_only, mirror).
        sync_max_change_share: Circuit-breaker share, or None when off.
        sync_overwrite_nulls: Whether a missing value may clear a CRM value.
        sync_crm_owned_fields: Destination fields never written.
        sync_dry_run: Whether the sync assets only plan.
        identity_mode: ``auto`` (incremental when safe) or ``full``; a run tag ``cdp/identity_mode``
            overrides it for one run.
        identity_max_cluster_size: Largest customer model links may build (None: no limit).
        identity_incremental_max_share: Share of new records above which a full reconcile runs.
        quality_max_volume_change: Relative row-count change the volume checks accept.
        identity_max_merge_rate_change: Absolute merge-rate change the identity health check accepts.
        ingest_earliest_date: Earliest plausible date in a source row.
        ingest_max_future_days: Days after the as-of date a source date may fall.
        ingest_max_field_bytes: Largest CSV field or JSON line.
    """

    warehouse_path: Path
    crm_url: str = field(repr=False)
    crm_schema: str | None
    landing_dir: Path
    identity_model: Path | None
    identity_threshold: float
    identity_overrides: Path | None
    sync_mode: str
    sync_table: str
    sync_key_column: str
    as_of_date: str
    sync_write_mode: str = "upsert"
    sync_max_change_share: float | None = 0.5
    sync_overwrite_nulls: bool = False
    sync_crm_owned_fields: frozenset[str] = frozenset()
    sync_dry_run: bool = False
    identity_mode: str = "auto"
    identity_max_cluster_size: int | None = 50
    identity_incremental_max_share: float = 0.1
    quality_max_volume_change: float = 0.5
    identity_max_merge_rate_change: float = 0.10
    ingest_earliest_date: date = date(2000, 1, 1)
    ingest_max_future_days: int = 1
    ingest_max_field_bytes: int = 131_072

    @classmethod
    def from_env(cls) -> "Settings":
        """Build the settings from the environment.

        Returns:
            The resolved settings.

        Raises:
            ValueError: A variable has a value that cannot be used; the message names it.
        """
        try:
            threshold = float(_get("CDP_IDENTITY_THRESHOLD"))
        except ValueError:
            raise ValueError("CDP_IDENTITY_THRESHOLD must be a number between 0 and 1") from None
        if not 0 < threshold < 1:
            raise ValueError("CDP_IDENTITY_THRESHOLD must be between 0 and 1 (exclusive)")
        mode = _get("CDP_SYNC_MODE")
        if mode not in {"side_table", "columns"}:
            raise ValueError(f"CDP_SYNC_MODE must be 'side_table' or 'columns', not '{mode}'")
        model = _get("CDP_IDENTITY_MODEL")
        as_of = _get("CDP_AS_OF_DATE")
        try:
            date.fromisoformat(as_of or "2000-01-01")
        except ValueError:
            raise ValueError(f"CDP_AS_OF_DATE must be a date like 2026-11-01, not '{as_of}'") from None
        return cls(
            warehouse_path=Path(_get("CDP_WAREHOUSE_PATH")).resolve(),
            crm_url=_sqlite_absolute(_get("CDP_CRM_URL")),
            crm_schema=_get("CDP_CRM_SCHEMA") or None,
            landing_dir=Path(_get("CDP_LANDING_DIR")).resolve(),
            identity_model=Path(model).resolve() if model else None,
            identity_threshold=threshold,
            identity_overrides=Path(_get("CDP_IDENTITY_OVERRIDES")).resolve()
            if _get("CDP_IDENTITY_OVERRIDES")
            else None,
            sync_mode=mode,
            sync_table=_get("CDP_SYNC_TABLE"),
            sync_key_column=_get("CDP_SYNC_KEY_COLUMN"),
            as_of_date=as_of,
            **_sync_policy_settings(),
            **_quality_settings(),
            **_identity_settings(),
            **_ingest_settings(),
        )

    def sync_policy(self) -> SyncPolicy:
        """Return the sync engine's mode and safety settings."""
        return SyncPolicy(
            mode=self.sync_write_mode,
            overwrite_nulls=self.sync_overwrite_nulls,
            crm_owned_fields=self.sync_crm_owned_fields,
            max_change_share=self.sync_max_change_share,
            dry_run=self.sync_dry_run,
        )

    def sync_target(self) -> SqlCrmTarget:
        """Return where and how the reverse sync writes into the CRM."""
        return SqlCrmTarget(
            url=self.crm_url,
            mode=self.sync_mode,
            table=self.sync_table,
            key_column=self.sync_key_column,
            overwrite_nulls=self.sync_overwrite_nulls,
        )

    def report_dir(self, area: str) -> Path:
        """Return the folder of an area's offline reports (``identity``, ``quality``): next to the warehouse.

        Args:
            area: The report area.

        Returns:
            ``reports/<area>`` beside the warehouse file; the pages may show personal data, so they
            stay where the warehouse is.
        """
        return self.warehouse_path.parent / "reports" / area

    def as_of(self) -> date:
        """Return the as-of date: ``CDP_AS_OF_DATE``, or today."""
        return date.fromisoformat(self.as_of_date) if self.as_of_date else date.today()

    def ingest_limits(self) -> IngestLimits:
        """Return the plausibility limits source rows are checked against."""
        return IngestLimits.around(
            self.as_of(),
            earliest=self.ingest_earliest_date,
            future_days=self.ingest_max_future_days,
            max_field_bytes=self.ingest_max_field_bytes,
        )

    def dbt_env(self) -> dict[str, str]:
        """Return the environment dbt needs: the warehouse, its memory limit and spill folder, the as-of date."""
        config = warehouse.engine_config(self.warehouse_path)
        return {
            "CDP_WAREHOUSE_PATH": str(self.warehouse_path),
            "CDP_AS_OF_DATE": self.as_of_date,
            warehouse.MEMORY_LIMIT_VARIABLE: config["memory_limit"],
            warehouse.TEMP_DIR_VARIABLE: config["temp_directory"],
        }


def _flag(name: str) -> bool:
    value = _get(name).lower()
    if value not in {"true", "false", "1", "0", "yes", "no"}:
        raise ValueError(f"{name} must be true or false, not '{value}'")
    return value in {"true", "1", "yes"}


def _sync_policy_settings() -> dict:
    mode = _get("CDP_SYNC_WRITE_MODE")
    if mode not in MODES:
        raise ValueError(f"CDP_SYNC_WRITE_MODE must be one of {', '.join(MODES)}, not '{mode}'")
    try:
        share = float(_get("CDP_SYNC_MAX_CHANGE_SHARE"))
    except ValueError:
        raise ValueError("CDP_SYNC_MAX_CHANGE_SHARE must be a number between 0 and 1") from None
    if not 0 <= share <= 1:
        raise ValueError("CDP_SYNC_MAX_CHANGE_SHARE must be between 0 and 1 (1 turns the breaker off)")
    owned = frozenset(f.strip() for f in _get("CDP_SYNC_CRM_OWNED_FIELDS").split(",") if f.strip())
    return {
        "sync_write_mode": mode,
        "sync_max_change_share": None if share >= 1 else share,
        "sync_overwrite_nulls": _flag("CDP_SYNC_OVERWRITE_NULLS"),
        "sync_crm_owned_fields": owned,
        "sync_dry_run": _flag("CDP_SYNC_DRY_RUN"),
    }


def _quality_settings() -> dict:
    values = {}
    for name, attribute in (
        ("CDP_QUALITY_MAX_VOLUME_CHANGE", "quality_max_volume_change"),
        ("CDP_IDENTITY_MAX_MERGE_RATE_CHANGE", "identity_max_merge_rate_change"),
    ):
        try:
            values[attribute] = float(_get(name))
        except ValueError:
            raise ValueError(f"{name} must be a number of 0 or more, e.g. {ENVIRONMENT[name][0]}") from None
        if values[attribute] < 0:
            raise ValueError(f"{name} must be 0 or more, not {values[attribute]}")
    return values


def _identity_settings() -> dict:
    mode = _get("CDP_IDENTITY_MODE")
    if mode not in {"auto", "full"}:
        raise ValueError(f"CDP_IDENTITY_MODE must be 'auto' or 'full', not '{mode}'")
    try:
        size = int(_get("CDP_IDENTITY_MAX_CLUSTER_SIZE"))
    except ValueError:
        raise ValueError("CDP_IDENTITY_MAX_CLUSTER_SIZE must be a whole number (0 = no limit)") from None
    try:
        share = float(_get("CDP_IDENTITY_INCREMENTAL_MAX_SHARE"))
    except ValueError:
        raise ValueError("CDP_IDENTITY_INCREMENTAL_MAX_SHARE must be a number between 0 and 1") from None
    if size < 0 or not 0 <= share <= 1:
        raise ValueError(
            "CDP_IDENTITY_MAX_CLUSTER_SIZE must be 0 or more and CDP_IDENTITY_INCREMENTAL_MAX_SHARE between 0 and 1"
        )
    return {
        "identity_mode": mode,
        "identity_max_cluster_size": size or None,
        "identity_incremental_max_share": share,
    }


def _ingest_settings() -> dict:
    try:
        earliest = date.fromisoformat(_get("CDP_INGEST_EARLIEST_DATE"))
    except ValueError:
        raise ValueError("CDP_INGEST_EARLIEST_DATE must be a date like 2000-01-01") from None
    values = {"ingest_earliest_date": earliest}
    for name, attribute, least in (
        ("CDP_INGEST_MAX_FUTURE_DAYS", "ingest_max_future_days", 0),
        ("CDP_INGEST_MAX_FIELD_BYTES", "ingest_max_field_bytes", 1024),
    ):
        try:
            values[attribute] = int(_get(name))
        except ValueError:
            raise ValueError(f"{name} must be a whole number, e.g. {ENVIRONMENT[name][0]}") from None
        if values[attribute] < least:
            raise ValueError(f"{name} must be {least} or more, not {values[attribute]}")
    return values
