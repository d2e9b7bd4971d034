"""Imported by the server that forks the processes preparing large files (warehouse.preparing):
prepares a tiny file once, so its children start with everything a preparation loads."""

import contextlib

from warehouse.preparing import warm_up

# Only a head start: should it fail, each child loads what it needs itself and reports its
# own errors, so the server must start either way.
with contextlib.suppress(Exception):
    warm_up()
