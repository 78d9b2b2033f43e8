"""Splitting tenants between daemons: tooz group membership and its consistent hash ring.

Each daemon joins one tooz group and heartbeats; a daemon that stops
heartbeating drops out of the group after the backend's timeout, and the ring
hands its tenants to the others. The database stays the last line of
defence: if coordination fails, or two daemons briefly disagree on the ring,
both may try a tenant but only one can claim its window.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid

from tooz import coordination, hashring

LOG = logging.getLogger(__name__)


class Partition:
    """Which tenants this daemon bills. Without a coordination URL: all of them."""

    def __init__(self, url: str, group: str) -> None:
        self.member = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.group = group.encode()
        self.coordinator: coordination.CoordinationDriver | None = None
        if url:
            self.coordinator = coordination.get_coordinator(url, self.member.encode())
            self.coordinator.start(start_heart=True)
            with contextlib.suppress(coordination.GroupAlreadyExist):
                self.coordinator.create_group(self.group).get()
            self.coordinator.join_group(self.group).get()

    def ring(self) -> hashring.HashRing | None:
        """The current ring of live members; None when every tenant is ours."""
        if self.coordinator is None:
            return None
        try:
            members = self.coordinator.get_members(self.group).get()
        except coordination.ToozError as exc:
            LOG.warning("coordination unavailable (%s): trying every tenant; the database keeps windows single", exc)
            return None
        return hashring.HashRing(members | {self.member.encode()})

    def owns(self, ring: hashring.HashRing | None, tenant_id: str) -> bool:
        return ring is None or self.member.encode() in ring.get_nodes(tenant_id.encode())

    def leave(self) -> None:
        if self.coordinator is None:
            return
        try:
            self.coordinator.leave_group(self.group).get()
        except coordination.ToozError as exc:
            LOG.warning("could not leave coordination group: %s", exc)
        self.coordinator.stop()
