"""Block types the project stores data in."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block


class JSON(Block):
    """A JSON document stored in Prefect, as seed 000's `all-users-json`.

    Prefect 3.8 no longer ships `prefect.blocks.system.JSON`; this keeps the seed's block type slug (`json`)
    so existing `all-users-json` documents and code that loads them keep working.
    """

    _block_type_name = "JSON"
    _block_type_slug = "json"
    _description = "A JSON document (the ingested users live in `all-users-json`)."

    value: Any
