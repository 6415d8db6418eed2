"""A small hostile HTTPS server on another loopback address (127.0.0.2–127.0.0.9), trusted like the twin.

Issue 17's attacks need a second party: the host a paging link or a redirect points to, the "data plane" that
answers a gzip bomb. It listens on its own loopback address (Linux routes all of 127/8 to ``lo``; nothing
leaves the machine) with a certificate for that IP from its own throw-away CA, and :meth:`Hostile.bundle` writes
a CA bundle holding the twin's CA and this one, so a client under test trusts both — a request that reaches
this server is a request preflight chose to send, not one a handshake stopped. Every request is recorded with
whether it carried an ``Authorization`` header (a token that left home).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from preflight.twin import tls


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the hostile server received."""

    method: str
    path: str
    authorization: bool


class Hostile:
    """The server. ``mode`` says how it answers every request:

    - ``json``: 200 with ``body`` (default ``{"value": []}``: a page that would pass for a real one);
    - ``bomb``: 200, ``Content-Encoding: gzip``, no length: a gzip stream of zeros, ``bomb_bytes`` decompressed
      (compressed on the fly, so it costs only what the client reads);
    - ``declared``: 200 declaring a ``Content-Length`` of 10 GB, then a few bytes and a close;
    - ``hang``: read the request, answer nothing for ``hang_s`` seconds.
    """

    def __init__(
        self,
        ip: str = "127.0.0.2",
        mode: str = "json",
        body: Any = None,
        *,
        bomb_bytes: int = 1 << 30,
        hang_s: float = 30.0,
    ) -> None:
        self.ip, self.mode, self.body = ip, mode, {"value": []} if body is None else body
        self.bomb_bytes, self.hang_s = bomb_bytes, hang_s
        self.seen: list[Seen] = []
        self.bomb_sent = 0  # decompressed bytes the bomb handed out before the client stopped reading
        self._dir = tempfile.TemporaryDirectory(prefix="preflight-hostile-")
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://{self.ip}:{self._httpd.server_address[1]}"

    @property
    def ca_file(self) -> Path:
        return Path(self._dir.name) / "hostile-ca.pem"  # written by tls.generate(prefix="hostile")

    def bundle(self, twin_ca: str | Path) -> str:
        """A CA bundle trusting the twin and this server (for ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``)."""
        path = Path(self._dir.name) / "bundle.pem"
        path.write_bytes(Path(twin_ca).read_bytes() + b"\n" + self.ca_file.read_bytes())
        return str(path)

    def start(self) -> Self:
        # The twin's own generator with a CA of its own: trusted only by a client given this server's ca_file.
        context = tls.generate(Path(self._dir.name), ip=self.ip, prefix="hostile").server_context()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append(
                    Seen(self.command, self.path, "authorization" in {k.lower() for k in self.headers.keys()})
                )
                getattr(server, f"_answer_{server.mode}")(self)

            do_GET = do_POST = _any

        self._httpd = ThreadingHTTPServer((self.ip, 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, name="hostile", daemon=True).start()
        return self

    def _answer_json(self, handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(self.body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer_bomb(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
        zeros = b"\0" * (1 << 20)
        try:
            handler.wfile.write(packer.compress(b'{"value": "'))
            while self.bomb_sent < self.bomb_bytes and not self._stop.is_set():
                handler.wfile.write(packer.compress(zeros))
                handler.wfile.flush()
                self.bomb_sent += len(zeros)
            handler.wfile.write(packer.compress(b'"}') + packer.flush())
        except OSError:
            return  # the client stopped reading: the point of the cap

    def _answer_declared(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(10 * 1024**3))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(b'{"value": [')
        except OSError:
            return

    def _answer_hang(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        self._stop.wait(self.hang_s)

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        time.sleep(0)
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
