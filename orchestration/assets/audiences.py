"""Audiences from the YAML definitions in connectors/audiences/definitions: one asset per audience
plus the membership history they all keep."""

import dagster as dg

from connectors import audiences, warehouse
from orchestration.assets._metadata import table_metadata
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.resources import CdpSettings

_DEFINITIONS = audiences.load_audiences()
_INPUTS = [["marts", "audience_traits"], ["marts", "fct_touchpoints"]]


@dg.multi_asset(
    specs=[
        *(
            dg.AssetSpec(
                key=[audiences.SCHEMA, definition.name],
                group_name=audiences.SCHEMA,
                description=f"One row per member (customer with {definition.purpose} consent): "
                f"{definition.description}",
                deps=_INPUTS,
                kinds={"duckdb"},
                metadata={"purpose": definition.purpose, "priority": definition.priority},
            )
            for definition in _DEFINITIONS
        ),
        dg.AssetSpec(
            key=[audiences.SCHEMA, audiences.HISTORY_TABLE],
            group_name=audiences.SCHEMA,
            description="One row per audience membership spell: audience, customer_id, entered_at, exited_at.",
            deps=_INPUTS,
            kinds={"duckdb"},
        ),
    ],
    pool=WAREHOUSE_POOL,
)
def audience_tables(context: dg.AssetExecutionContext, cdp: CdpSettings):
    """Build every audience with consent and suppression enforced, and record who entered or left."""
    with warehouse.connect(cdp.load().warehouse_path) as con:
        built = audiences.build_audiences(con, _DEFINITIONS)
        history = warehouse.read_table(con, audiences.SCHEMA, audiences.HISTORY_TABLE)
    for name, frame in built.items():
        context.log.info(f"audience {name}: {len(frame)} member(s)")
        yield dg.MaterializeResult(asset_key=[audiences.SCHEMA, name], metadata=table_metadata(frame))
    yield dg.MaterializeResult(
        asset_key=[audiences.SCHEMA, audiences.HISTORY_TABLE], metadata=table_metadata(history)
    )
