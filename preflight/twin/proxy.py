"""The twin's loopback CONNECT proxy: how a process reaches the twin's named hosts with no root and no resolver.

A process given ``HTTPS_PROXY=http://127.0.0.1:PORT`` asks this proxy for a tunnel (``CONNECT host:443``)
instead of resolving ``host`` itself. The proxy never resolves anything either: a name the twin serves
(:func:`preflight.twin.hosts.serves`) gets a tunnel to the twin's TLS port, where the client's TLS handshake,
SNI and certificate check happen end to end; any other name is refused (``403``, so a real Azure name can never
be reached through it) and a twin name that does not exist answers ``502`` as a proxy does for a name that does
not resolve. Plain ``http://`` forwarding is refused: every twin service speaks HTTPS.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from socketserver import BaseRequestHandler, ThreadingTCPServer

from preflight.twin.hosts import is_twin_name

_HEAD_LIMIT = 16 * 1024


def _answer(status: str, text: str) -> bytes:
    body = text.encode("utf-8")
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii") + body


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
        chunk = conn.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def decide(request_line: str, serves: Callable[[str], bool]) -> tuple[str | None, bytes]:
    """The proxy's decision on one request line: ``(host, b"")`` to open a tunnel to the twin for ``host``,
    or ``(None, answer)`` with the refusal to send (pure)."""
    parts = request_line.split()
    if len(parts) != 3 or parts[0].upper() != "CONNECT":
        return None, _answer("403 Forbidden", "The twin's proxy only opens CONNECT tunnels to *.twin.test:443.\n")
    host, _, port = parts[1].rpartition(":")
    host = host.strip("[]").lower().rstrip(".")
    if port != "443" or not is_twin_name(host):
        return None, _answer("403 Forbidden", f"The twin's proxy does not serve {parts[1]} (only *.twin.test:443).\n")
    if not serves(host):
        return None, _answer("502 Bad Gateway", f"{host}: no such host in the twin's scenario.\n")
    return host, b""


class _Tunnel(BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(10)
        try:
            head = _read_head(conn)
        except OSError:
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        host, refusal = decide(line, self.server.serves)
        if host is None:
            self.server.refused.append(line[:200])
            conn.sendall(refusal)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.server.target_port), timeout=10)
        except OSError:
            conn.sendall(_answer("502 Bad Gateway", "The twin is not listening.\n"))
            return
        with upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.server.pump(conn, upstream)


class _ProxyServer(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port: int, serves: Callable[[str], bool]) -> None:
        self.target_port = target_port
        self.serves = serves
        self.stopping = threading.Event()
        self.refused: list[str] = []  # request lines refused, oldest first (list.append is atomic)
        super().__init__(("127.0.0.1", 0), _Tunnel)

    def pump(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or the proxy stops)."""
        peers = {a: b, b: a}
        for s in peers:
            s.settimeout(None)
        while not self.stopping.is_set():
            ready, _, _ = select.select(list(peers), [], [], 0.5)
            for s in ready:
                try:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
                except OSError:
                    return


class ConnectProxy:
    """A running CONNECT proxy on ``127.0.0.1`` whose tunnels end at ``target_port`` (the twin's listener)."""

    def __init__(self, target_port: int, serves: Callable[[str], bool]) -> None:
        self._server = _ProxyServer(target_port, serves)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"twin-proxy:{self.port}"
        )
        self._thread.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def refused(self) -> list[str]:
        """The request lines it refused (``CONNECT management.azure.com:443 HTTP/1.0`` …): what a client under
        the twin tried to reach beyond it."""
        return list(self._server.refused)

    def start(self) -> ConnectProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
