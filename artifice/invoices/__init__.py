"""Invoice adapters shipped with Artifice."""
