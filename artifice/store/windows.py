"""The billing database as the pipeline, the CLI and the daemon use it: its transitions and its reads.

See ``artifice.store.transitions`` for the fenced state machine and ``artifice.store.reads`` for
what the database says.
"""

from __future__ import annotations

from artifice.model import PricedLine
from artifice.store.reads import Reads
from artifice.store.transitions import Transitions

__all__ = ["PricedLine", "WindowStore"]


class WindowStore(Transitions, Reads):
    """Every operation on billing windows, over one engine."""
