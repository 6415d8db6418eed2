"""The twin's request log: one entry per HTTP request, for tests and benchmarks.

Tests use it to prove that the tool is read-only (no PUT/POST/DELETE to ARM), that each fact is fetched once,
that a throttled request was retried, and benchmarks count round trips with it. Entries are appended from the
server's handler threads, so the log is guarded by a lock; it optionally mirrors every entry to a JSONL file
(``--request-log FILE`` on ``twin serve`` / ``twin exec``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from preflight.twin.hosts import host_of

if TYPE_CHECKING:
    from preflight.twin.http import TwinRequest


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request as the twin saw it.

    ``path`` is the decoded, ``//``-collapsed path the router matched; ``raw_path`` is what came on the wire.
    ``service`` is the route's service (``None`` for unknown paths), ``principal`` the object id of the caller
    the handler authenticated (or the principal a token was issued to), ``fault`` the fault action applied, if any.
    """

    time: float
    method: str
    path: str
    query: Mapping[str, str]
    service: str | None
    principal: str | None
    status: int
    duration_ms: float
    raw_path: str = ""
    fault: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    host: str = ""  # the name the client sent it to (Host, without port): 127.0.0.1 or a named host

    @classmethod
    def of(
        cls,
        request: TwinRequest,
        *,
        service: str | None,
        principal: str | None,
        status: int,
        duration_ms: float,
        fault: str | None,
        extra: Mapping[str, Any],
    ) -> LogEntry:
        """The entry for ``request``, stamped now: its method, paths and query as the twin received them (the
        one place the server's answered and faulted requests are turned into entries)."""
        return cls(
            time=time.time(),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            service=service,
            principal=principal,
            status=status,
            duration_ms=duration_ms,
            raw_path=request.raw_path,
            fault=fault,
            extra=extra,
            host=host_of(request.header("host")),
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (what the JSONL file holds)."""
        data = asdict(self)
        data["query"] = dict(self.query)
        data["extra"] = dict(self.extra)
        return data


# Token-request form fields that say WHAT was asked (never the secret, assertion or refresh token that proves who).
_FORM_FIELDS = ("grant_type", "scope", "client_id", "resource")


def body_summary(method: str, content_type: str, body: bytes) -> dict[str, Any]:
    """What the log keeps of a request body, so tests can tell two POSTs to one URL apart: the token
    endpoint's non-secret form fields (grant type, scope, client id), else a short SHA-256 of the body (a
    Resource Graph query, a Graph ``$batch``). Never the body itself: it may carry a secret."""
    if method in ("GET", "HEAD") or not body:
        return {}
    if "x-www-form-urlencoded" in content_type.lower():
        from urllib.parse import parse_qs

        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: form[k][-1] for k in _FORM_FIELDS if k in form}
    import hashlib

    return {"body_sha256": hashlib.sha256(body).hexdigest()[:16]}


class RequestLog:
    """Thread-safe, append-only list of :class:`LogEntry`, optionally mirrored to a JSONL file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._history: list[LogEntry] = []  # never cleared: whole-session proofs (e.g. "read-only")
        self._generation = 0  # bumped by clear(): a request that arrived before it is not "since the clear"
        self._file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None

    def generation(self) -> int:
        """The log's current generation; pass it back to :meth:`append` for a request that arrived now."""
        with self._lock:
            return self._generation

    def append(self, entry: LogEntry, generation: int | None = None) -> None:
        """Record ``entry``. A request that *arrived* before the last :meth:`clear` (``generation`` older than
        the log's) goes to the history only: an earlier test's in-flight request (held by a latency fault, or
        abandoned by a run that hit its deadline) must not count as the current test's."""
        with self._lock:
            if generation is None or generation == self._generation:
                self._entries.append(entry)
            self._history.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry.to_json()) + "\n")
                self._file.flush()

    def entries(self) -> list[LogEntry]:
        """A snapshot copy: callers may iterate while the server keeps appending."""
        with self._lock:
            return list(self._entries)

    def history(self) -> list[LogEntry]:
        """Every entry since the log was created, including those :meth:`clear` dropped."""
        with self._lock:
            return list(self._history)

    def clear(self) -> None:
        """Forget the in-memory entries (the JSONL file keeps its history)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
