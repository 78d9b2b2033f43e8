"""The seed's tastypie resources: ``/api/v1/invoice/`` (rows nested), ``/api/v1/invoicerows/``,
``/api/v1/client/`` and ``/api/v1/transactions/``, with ApiKeyAuthentication.

``ARTIFICE_SEED001_FILTERING=0`` declares no filtering on ``num_facture``, as an installation
whose resource never declared it: tastypie then answers a filtered list with 400.
"""

from __future__ import annotations

import os

from django import forms
from tastypie import fields
from tastypie.api import Api
from tastypie.authentication import ApiKeyAuthentication
from tastypie.authorization import Authorization
from tastypie.resources import ModelResource
from tastypie.validation import FormValidation

from tests.erp.seed001.invoicing.models import Client, Invoice, InvoiceRow, InvoiceTransaction

FILTERING = {"num_facture": ("exact",)} if os.environ.get("ARTIFICE_SEED001_FILTERING", "1") == "1" else {}


class NumberForm(forms.ModelForm):
    """Validates what the model's own constraints would refuse later: a missing or taken ``num_facture``."""

    class Meta:
        model = Invoice
        fields = ("num_facture",)


class Protected:
    """Every resource: tastypie's ApiKeyAuthentication; any authenticated user may read and write."""

    authentication = ApiKeyAuthentication()
    authorization = Authorization()


class ClientResource(ModelResource):
    class Meta(Protected):
        queryset = Client.objects.all()
        resource_name = "client"


class TransactionResource(ModelResource):
    class Meta(Protected):
        queryset = InvoiceTransaction.objects.all()
        resource_name = "transactions"


class InvoiceRowResource(ModelResource):
    # The seed's ids are strings ("id_facture_ligne": "1"), as tastypie of its time gave AutoFields.
    id_facture_ligne = fields.CharField(attribute="id_facture_ligne", readonly=True, unique=True)
    id_facture = fields.ToOneField("tests.erp.seed001.invoicing.api.InvoiceResource", "id_facture")

    class Meta(Protected):
        queryset = InvoiceRow.objects.all()
        resource_name = "invoicerows"


class InvoiceResource(ModelResource):
    id_facture = fields.CharField(attribute="id_facture", readonly=True, unique=True, default="")
    client = fields.ToOneField(ClientResource, "client")
    invoicerows = fields.ToManyField(InvoiceRowResource, "invoicerows", related_name="id_facture", full=True, null=True)
    transactions = fields.ToManyField(TransactionResource, "transactions", null=True)

    class Meta(Protected):
        queryset = Invoice.objects.all()
        resource_name = "invoice"
        validation = FormValidation(form_class=NumberForm)
        filtering = FILTERING
        max_limit = None
        allowed_methods = ("get", "post", "put", "delete", "patch")


api = Api(api_name="v1")
for resource in (ClientResource(), InvoiceResource(), InvoiceRowResource(), TransactionResource()):
    api.register(resource)
