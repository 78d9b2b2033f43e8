"""The invoicing app: the seed's client, invoice and invoicerow models and their tastypie resources."""
