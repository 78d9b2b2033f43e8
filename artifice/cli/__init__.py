"""Command-line tools: thin shells over the billing pipeline."""
