"""Named crash points for the crash-injection tests.

``ARTIFICE_FAILPOINT=<name>`` makes the process kill itself (SIGKILL, no
cleanup) when it reaches that point of a billing run. Unset, ``hit`` does
nothing. Points: ``claimed``, ``rated``, ``committing``, ``committed_in_erp``, ``retrying``
(the steps of ``artifice.billing.run``).
"""

from __future__ import annotations

import os
import signal

POINTS = ("claimed", "rated", "committing", "committed_in_erp")  # retrying needs an ERP that fails


def hit(name: str) -> None:
    if os.environ.get("ARTIFICE_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(128 + signal.SIGKILL)  # PID 1 of a namespace ignores its own SIGKILL: end as abruptly
