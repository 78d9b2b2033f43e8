"""Benchmarks: scripts that print figures (see BENCHMARKS.md); not pass/fail tests."""
