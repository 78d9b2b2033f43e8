"""Django settings of the seed-001 application: one SQLite file, naive datetimes as the seed shows them."""

import os

SECRET_KEY = "artifice-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = False  # the seed's datetimes carry no zone: "2011-11-10T00:00:00"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "tastypie",
    "tests.erp.seed001.invoicing",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.erp.seed001.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("ARTIFICE_SEED001_DATABASE", ":memory:"),
        "OPTIONS": {"timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TASTYPIE_DEFAULT_FORMATS = ["json"]
TASTYPIE_FULL_DEBUG = False
LOGGING_CONFIG = None
