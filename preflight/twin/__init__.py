"""The Azure twin: a loopback Azure for tests, the demo and benchmarks.

``from preflight.twin import Twin`` — attributes load lazily so ``import preflight.twin`` stays cheap (no
``cryptography``, no server) for code paths that never start a twin. See docs/twin.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.twin.instance import Twin
    from preflight.twin.log import LogEntry
    from preflight.twin.tokens import decode_claims, decode_jwt

__all__ = ["LogEntry", "Twin", "decode_claims", "decode_jwt"]

_LAZY = {
    "Twin": ("preflight.twin.instance", "Twin"),
    "LogEntry": ("preflight.twin.log", "LogEntry"),
    "decode_claims": ("preflight.twin.tokens", "decode_claims"),
    "decode_jwt": ("preflight.twin.tokens", "decode_jwt"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'preflight.twin' has no attribute {name!r}")
