"""Billing as stages: batch reading, pricing, plugins, re-billing adjustments, the fenced run that commits
an invoice exactly once, and the pipeline that wires them (``artifice.billing.pipeline``)."""
