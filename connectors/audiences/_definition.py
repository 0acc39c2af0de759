"""Audience definitions: one YAML file per audience, validated into typed objects."""

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.audiences._schema import (
    EVENT_FIELDS,
    LIST_OPERATORS,
    NO_VALUE_OPERATORS,
    OPERATORS,
    ORDERED_OPERATORS,
    PURPOSES,
    TRAIT_FIELDS,
)

DEFINITIONS_DIR = Path(__file__).with_name("definitions")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class AudienceError(ValueError):
    """A definition file that cannot be used; the message names the file and the field."""


class Condition(BaseModel):
    """One test on a trait field, e.g. ``{field: health_tier, op: eq, value: at_risk}``."""

    model_config = ConfigDict(extra="forbid")
    field: str
    op: str
    value: Any = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in TRAIT_FIELDS:
            raise ValueError(f"unknown field '{value}'; allowed: {', '.join(sorted(TRAIT_FIELDS))}")
        return value

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value not in OPERATORS:
            raise ValueError(f"unknown operator '{value}'; allowed: {', '.join(OPERATORS)}")
        return value

    def model_post_init(self, _context: Any) -> None:
        """Check that the value suits the operator and the field's kind."""
        kind = TRAIT_FIELDS[self.field]
        if self.op in NO_VALUE_OPERATORS:
            if self.value is not None:
                raise ValueError(f"operator '{self.op}' on '{self.field}' takes no value")
            return
        values = self.value if self.op in LIST_OPERATORS else [self.value]
        if self.op in LIST_OPERATORS and (not isinstance(self.value, list) or not self.value):
            raise ValueError(f"operator '{self.op}' on '{self.field}' needs a non-empty list")
        for item in values:
            if kind == "number" and (isinstance(item, bool) or not isinstance(item, int | float)):
                raise ValueError(f"'{self.field}' is a number; got {item!r}")
            if kind == "text" and not isinstance(item, str):
                raise ValueError(f"'{self.field}' is text; got {item!r}")
            if kind == "date" and not isinstance(item, date):
                raise ValueError(f"'{self.field}' is a date (YYYY-MM-DD); got {item!r}")
        if self.op in ORDERED_OPERATORS and kind == "text":
            raise ValueError(f"operator '{self.op}' does not apply to text field '{self.field}'")


class EventCondition(BaseModel):
    """At least ``min_count`` touchpoints matching ``match`` within ``within_days`` of the as-of date."""

    model_config = ConfigDict(extra="forbid")
    match: dict[str, str]
    within_days: int = Field(gt=0, le=3650)
    min_count: int = Field(default=1, ge=1)

    @field_validator("match")
    @classmethod
    def _known_event_fields(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("match needs at least one of: " + ", ".join(EVENT_FIELDS))
        for key in value:
            if key not in EVENT_FIELDS:
                raise ValueError(f"unknown event field '{key}'; allowed: {', '.join(EVENT_FIELDS)}")
        return value


class Audience(BaseModel):
    """A declarative audience: all conditions and events must hold, no exclusion may."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    purpose: str
    priority: int = Field(ge=0)
    conditions: list[Condition] = []
    events: list[EventCondition] = []
    exclude: list[Condition] = []

    @field_validator("name")
    @classmethod
    def _table_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "name must be lower-case letters, digits and underscores, starting with a letter"
            )
        return value

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, value: str) -> str:
        if value not in PURPOSES:
            raise ValueError(f"unknown purpose '{value}'; allowed: {', '.join(PURPOSES)}")
        return value


def load_audience(path: Path) -> Audience:
    """Read and validate one definition file.

    Args:
        path: A ``<name>.yaml`` file; the name inside must equal the file name.

    Returns:
        The validated audience.

    Raises:
        AudienceError: naming the file and the offending field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        audience = Audience.model_validate(raw)
    except yaml.YAMLError as exc:
        raise AudienceError(f"{path}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise AudienceError(f"{path}: {problems}") from exc
    if audience.name != path.stem:
        raise AudienceError(f"{path}: name '{audience.name}' must match the file name '{path.stem}'")
    return audience


def load_audiences(folder: Path = DEFINITIONS_DIR) -> list[Audience]:
    """Read every ``*.yaml`` definition in a folder, highest priority first.

    Args:
        folder: Folder of definition files.

    Returns:
        The audiences, ordered by priority (descending) then name.
    """
    audiences = [load_audience(path) for path in sorted(folder.glob("*.yaml"))]
    return sorted(audiences, key=lambda a: (-a.priority, a.name))
