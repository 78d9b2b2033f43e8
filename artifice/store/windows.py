"""The billing database as the pipeline, the CLI and the daemon use it: its transitions and its reads.

See ``artifice.store.transitions`` for the fenced state machine, ``artifice.store.reads`` for
what the database says, and ``artifice.store.listings`` for which tenant-months are due.
"""

from __future__ import annotations

from artifice.model import PricedLine
from artifice.store.listings import Listings
from artifice.store.reads import Reads
from artifice.store.transitions import Transitions

__all__ = ["PricedLine", "WindowStore"]


class WindowStore(Transitions, Reads, Listings):
    """Every operation on billing windows and the months they bill, over one engine."""
