"""Figures tests measure on the way (crash points tried, HTTP requests made), printed after the run.

``note(section, line)`` collects a line; conftest's ``pytest_terminal_summary``
prints every section at the end of the session, so they appear in CI's log.
"""

from __future__ import annotations

FIGURES: dict[str, list[str]] = {}


def note(section: str, line: str) -> None:
    FIGURES.setdefault(section, []).append(line)
