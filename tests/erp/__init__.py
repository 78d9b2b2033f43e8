"""Local contract servers of the seed ERPs, for the adapter tests and crash tests."""
