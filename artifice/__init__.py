"""Artifice: bill OpenStack tenants from telemetry into any ERP or billing system."""
