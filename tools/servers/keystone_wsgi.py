"""WSGI entry point for running Keystone under gunicorn.

keystone.wsgi.api parses sys.argv with oslo.config, so gunicorn's own
arguments must be hidden from it.  Keystone reads its config file from
OS_KEYSTONE_CONFIG_FILES, which tools/servers/keystone.sh sets.
"""

import os
import sys

sys.argv = ["keystone-api"]
if "OS_KEYSTONE_CONFIG_FILES" not in os.environ:
    raise RuntimeError("OS_KEYSTONE_CONFIG_FILES is not set")

from keystone.wsgi.api import application  # noqa: E402,F401
