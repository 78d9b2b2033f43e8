"""The seed's schema as Django models: field types, defaults, nullability and unique fields as its
``/api/v1/invoice/schema/`` shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models


class Client(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200, default="")

    class Meta:
        app_label = "invoicing"


class Invoice(models.Model):
    id_facture = models.AutoField(primary_key=True)
    client = models.ForeignKey(Client, on_delete=models.PROTECT)
    num_facture = models.CharField(max_length=100, unique=True, default="")
    accompte = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"), null=True)
    commentaire = models.TextField(default="")
    date_created = models.DateTimeField(null=True)
    date_facture = models.DateTimeField(null=True)
    date_generated = models.DateTimeField(null=True)
    date_paiement = models.DateTimeField(null=True)
    date_sent = models.DateTimeField(null=True)
    delivery = models.CharField(max_length=20, default="email")
    exchange_rate = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("1.00"))
    extra_bottom = models.TextField(default="")
    extra_top = models.TextField(default="")
    facture_file = models.CharField(max_length=200, default="")
    id_compte = models.IntegerField(default=30)
    id_type_presta = models.IntegerField(null=True)
    is_envoye = models.IntegerField(null=True)
    is_paye = models.BooleanField(default=False, null=True)
    payment_method = models.CharField(max_length=40, default="unknown")
    period = models.CharField(max_length=20, default="monthly")
    periodic_next_deadline = models.DateTimeField(null=True)
    ref_contrat = models.CharField(max_length=100, default="")
    tax = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("19.60"))
    type_doc = models.CharField(max_length=20, default="facture")
    type_paiement = models.CharField(max_length=200, default="")

    class Meta:
        app_label = "invoicing"
        ordering = ("id_facture",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.date_created is None:
            self.date_created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        super().save(*args, **kwargs)


class InvoiceRow(models.Model):
    id_facture_ligne = models.AutoField(primary_key=True)
    id_facture = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="invoicerows")
    description = models.CharField(max_length=500, default="")
    ordre = models.IntegerField(null=True)
    prix_ht = models.DecimalField(max_digits=15, decimal_places=5)
    qtt = models.DecimalField(max_digits=15, decimal_places=2)

    class Meta:
        app_label = "invoicing"
        ordering = ("id_facture_ligne",)


class InvoiceTransaction(models.Model):
    """A payment transaction of an invoice (the seed's ``transactions``); Artifice never writes one."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="transactions")
    status = models.CharField(max_length=40, default="pending")

    class Meta:
        app_label = "invoicing"
