"""The remote services, in the order they are asked whether they handle a link.

Each is registered with its host in ``crawler.hosts`` (``LinkKind``'s members, in this order);
the generic service comes last because it handles everything. Fresh instances per run:
services may keep per-run state, never shared across runs (yt-dlp's instances live in the
engine's worker processes, which end with the run).
"""

from __future__ import annotations

import importlib

from crawler.hosts import LinkKind
from crawler.services.base import Service


def default_services() -> list[Service]:
    return [service_class(kind)() for kind in LinkKind]


def service_class(kind: LinkKind) -> type[Service]:
    """The service class registered for ``kind``, imported now: ``--offline`` and ``--help``
    never pay for yt-dlp and bs4."""
    module, _, name = kind.host.service.partition(":")
    cls: type[Service] = getattr(importlib.import_module(module), name)
    return cls
