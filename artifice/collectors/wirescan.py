"""The C scanners of telemetry answers (``_scan/``), shared by the collectors that use them.

``scanner`` is None where Artifice was installed without a C compiler: every answer is then
decoded by the collectors' general (Python) decoders, which give the same frames, slower.
"""

from __future__ import annotations

import json
from typing import Any

scanner: Any
try:
    from artifice.collectors import _wirescan as scanner  # type: ignore[attr-defined,no-redef]
except ImportError:  # built without a C compiler
    scanner = None

SCANNER_BUILT = scanner is not None


def unescaped(value: str | bytes) -> str:
    """A scanned string: as it is, or (bytes: it has escapes) its raw text unescaped as json.loads does."""
    if isinstance(value, bytes):
        text: str = json.loads(b'"' + value + b'"')
        return text
    return value
