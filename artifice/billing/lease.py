"""Keeping a claimed window's lease alive while a run works on it (collecting can take minutes)."""

from __future__ import annotations

import logging
import threading

from artifice.exceptions import ArtificeError
from artifice.store.windows import WindowStore

LOG = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews one window's lease every third of the lease time, in a thread, until stopped or lost."""

    def __init__(self, store: WindowStore, window_id: int, token: str) -> None:
        self.store, self.window_id, self.token = store, window_id, token
        self.interval = max(store.lease.total_seconds() / 3, 0.2)
        self.lost = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{window_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                if not self.store.renew(self.window_id, self.token):
                    self.lost.set()  # released by the run itself, or taken over: nothing more to renew
                    return
            except ArtificeError as exc:  # the database is unreachable: the next transition will say so
                LOG.warning("window %s: could not renew the lease: %s", self.window_id, exc)
