"""Turn raw telemetry (a DataFrame) into billable usage. Pure functions, no I/O."""
