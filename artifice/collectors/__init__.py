"""Telemetry collectors: read a tenant's raw usage for a window."""
