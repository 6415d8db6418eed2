"""Live progress on an interactive terminal: which checks are running, which finished.

Shown on stderr only when it is a TTY and not in CI, so logs and pipes stay clean.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from preflight.model import CheckMeta, Result

CI_VARIABLES = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "BUILD_BUILDID", "GITLAB_CI", "JENKINS_URL")


def wants_progress(stream: TextIO, environ: Mapping[str, str]) -> bool:
    if any(environ.get(v) for v in CI_VARIABLES):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TerminalProgress:
    """Rewrites one status line as checks start and finish; prints each finished check above it."""

    def __init__(self, stream: TextIO, total: int, width: int | None = None) -> None:
        self.stream = stream
        self.total = total
        self.width = width  # None: ask the terminal at every redraw (it may be resized mid-run)
        self.done = 0
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()

    def started(self, meta: CheckMeta) -> None:
        with self.lock:
            self.running[meta.id] = time.monotonic()
            self._draw()

    def finished(self, meta: CheckMeta, results: Sequence[Result]) -> None:
        with self.lock:
            self.running.pop(meta.id, None)
            self.done += 1
            statuses = ", ".join(sorted({r.status.value.upper() for r in results}))
            self._clear()
            self.stream.write(f"  done {meta.id} ({statuses})\n")
            self._draw()

    def close(self) -> None:
        with self.lock:
            self._clear()
            self.stream.flush()

    def _clear(self) -> None:
        self.stream.write("\r\033[K")

    def _columns(self) -> int:
        if self.width is not None:
            return self.width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def _draw(self) -> None:
        names = ", ".join(sorted(self.running)) or "…"
        line = f"[{self.done}/{self.total}] running: {names}"
        # The status line must fit on one row: "\r\033[K" only clears the row the cursor is on, so a wrapped
        # line would leave its first rows behind at every redraw. The last column stays free too (writing
        # into it makes some terminals wrap early).
        room = max(self._columns() - 1, 10)
        if len(line) > room:
            line = line[: room - 1] + "…"
        self.stream.write("\r\033[K" + line)
        self.stream.flush()
