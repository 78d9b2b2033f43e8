"""Contract suites: every adapter and every collector held to the same promises."""
