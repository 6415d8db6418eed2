"""ISO 8601 timestamps as Azure sends them, read once for the product and the twin.

ARM and Graph write ``2024-05-01T10:00:00.0000000Z``: seven fraction digits (one more than ``datetime`` keeps on
older Pythons) and a ``Z`` suffix; some fields have no zone at all and mean UTC. The twin imports this module
rather than keeping its own reader, so both sides read a timestamp the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Keep at most six fraction digits (microseconds); Azure's seventh (100 ns ticks) is dropped, not rounded.
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_time(text: str | None) -> float | None:
    """ARM timestamps (``2024-05-01T10:00:00.0000000Z``, 7 fractional digits) as epoch seconds; None if absent
    or unreadable. A timestamp without a zone is taken as UTC, as ARM means it."""
    if not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
