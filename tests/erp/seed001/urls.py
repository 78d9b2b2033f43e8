"""The seed's URLs: everything under ``/api/``."""

from django.urls import include, path

from tests.erp.seed001.invoicing.api import api

urlpatterns = [path("api/", include(api.urls))]
