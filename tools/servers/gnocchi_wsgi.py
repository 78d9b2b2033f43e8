"""WSGI entry point for running gnocchi-api under gunicorn.

gnocchi.rest.wsgi parses sys.argv with oslo.config, so gunicorn's own
arguments must be hidden from it.  The config file is taken from the
environment variable GNOCCHI_CONFIG_FILE (set by tools/servers/gnocchi.sh).
"""

import os
import sys

sys.argv = ["gnocchi-api", "--config-file", os.environ["GNOCCHI_CONFIG_FILE"]]

from gnocchi.rest.wsgi import application  # noqa: E402,F401
