"""Installs the test DNS guard (tests/helpers/no_dns.py) when this directory is on PYTHONPATH: a subprocess
under test resolves only loopback names, so no DNS query ever leaves the machine."""

import importlib.util as _util
from pathlib import Path as _Path

_spec = _util.spec_from_file_location("_preflight_test_no_dns", _Path(__file__).resolve().parent.parent / "no_dns.py")
if _spec is not None and _spec.loader is not None:
    _module = _util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    _module.install()
