"""``artifice-api``: a read API over Artifice's invoices, in the shape of seed 004 (Morpheus)."""
