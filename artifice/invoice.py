"""The import seed 000 documents: ``from artifice.invoice import Invoice``.

The contract itself lives in :mod:`artifice.invoices.base`, beside the adapters shipped with Artifice.
"""

from artifice.invoices.base import Invoice, Item, LineValue, Tenant

__all__ = ["Invoice", "Item", "LineValue", "Tenant"]
