"""The catalogue: load ``catalog.yaml``, validate it in one pass, and turn it into records.

Every problem is reported at once, as ``catalog.yaml:LINE:COL: session "TITLE": FIELD: what``,
so a contributor fixes them all in one go. Nothing here touches the network.

``model``: the records; ``reader``: the file read within limits, then parsed; ``yaml``: YAML
events to values with positions, within limits; ``validate``: the catalogue's rules.
"""

from crawler.catalog.model import (
    Catalog,
    CatalogError,
    Position,
    Presenter,
    Session,
    session_id,
    session_infos,
    slugify,
)
from crawler.catalog.reader import MAX_CATALOG_BYTES, load, parse

__all__ = [
    "MAX_CATALOG_BYTES",
    "Catalog",
    "CatalogError",
    "Position",
    "Presenter",
    "Session",
    "load",
    "parse",
    "session_id",
    "session_infos",
    "slugify",
]
