"""Declarative audiences: YAML definitions compiled to safe SQL, built with consent enforced, exported.

Plain Python (no Dagster): ``orchestration/assets/audiences.py`` and ``cdp audiences`` call it.
"""

from connectors.audiences._build import (
    HISTORY_TABLE,
    SCHEMA,
    build_audiences,
    members,
    members_on,
    phone_e164,
)
from connectors.audiences._compile import CompiledAudience, compile_audience
from connectors.audiences._definition import (
    DEFINITIONS_DIR,
    Audience,
    AudienceError,
    load_audience,
    load_audiences,
)
from connectors.audiences._export import FORMATS, export_members, hash_email, hash_phone

__all__ = [
    "DEFINITIONS_DIR",
    "FORMATS",
    "HISTORY_TABLE",
    "SCHEMA",
    "Audience",
    "AudienceError",
    "CompiledAudience",
    "build_audiences",
    "compile_audience",
    "export_members",
    "hash_email",
    "hash_phone",
    "load_audience",
    "load_audiences",
    "members",
    "members_on",
    "phone_e164",
]
