"""Reading a small file the user names, safely: a FIFO, a device or a huge file must not hang or exhaust the run.

Shared by ``--env-file`` (:mod:`preflight.envfile`) and the JSON inputs (:mod:`preflight.target`); each caller
turns :class:`UnreadableFile` into its own typed error with its own prefix."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnreadableFile(ValueError):
    """Why the file could not be read, in a clause fit for a one-line error (``not a regular file``)."""


def read_small_text(path: str | Path, max_bytes: int, *, too_large: str | None = None) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` bytes. Opened non-blocking and checked with
    fstat before anything is read, so a FIFO or a device is refused at once instead of blocking or reading
    forever. ``too_large`` replaces the default clause for an oversized file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnreadableFile("not a regular file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise UnreadableFile(too_large or f"larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})") from exc
