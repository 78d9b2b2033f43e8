"""``artifice-daemon``: bills complete months on a schedule, as a systemd service."""
