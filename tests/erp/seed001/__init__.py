"""Seed 001's invoice API as a real Django + django-tastypie application (see ``serve``)."""
