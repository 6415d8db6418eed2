"""The GUID pattern, pure: one definition for every id preflight validates or finds in text.

Tenant, subscription, object, application and role-definition ids are all GUIDs; validating them with copies of
one regex lets the copies drift (one anchored with ``$``, which accepts a trailing newline, one with ``\\Z``).
"""

from __future__ import annotations

import re

#: A GUID anywhere in a text (no anchors, either case): for building larger patterns (``rf"…({GUID_PATTERN})"``).
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: A value that is exactly a GUID: ``GUID.match(value)`` is true for nothing else (``\Z``: not even a trailing
#: newline).
GUID = re.compile(rf"^{GUID_PATTERN}\Z")
