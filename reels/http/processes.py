"""`reels serve --workers N`: N API processes on one port, each with a listening socket of its own.

uvicorn's supervisor binds one socket and shares it: every process waits on it, and whichever
wakes first accepts every connection pending at that moment. Keep-alive clients that connect
together (a load balancer's pool, a mobile gateway, a bench) all land on one process while the
others idle. With SO_REUSEPORT each process listens on its own socket bound to the same port and
the kernel spreads new connections across them by a hash of their addresses. Where the platform
has no such balancing (SO_REUSEPORT only balances on Linux), the shared socket is kept.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")


def balances_connections() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def run_processes(config: Config) -> None:
    """Run `config.workers` processes of `config.app` on config.host:config.port, supervised by
    uvicorn (a process that dies or hangs is replaced; SIGHUP restarts them one by one)."""
    if balances_connections():
        SocketPerProcess(config).run()
    else:
        Multiprocess(config, sockets=[config.bind_socket()]).run()


class SocketPerProcess(Multiprocess):
    """uvicorn's supervisor, handing every process it starts a socket of its own.

    The supervisor reads `self.sockets` each time it makes a process; here that binds a new
    socket. Once the process has started (the child holds its own descriptor), the parent closes
    its copy: a socket left open in the parent would outlive a dead child and keep receiving its
    share of new connections with nobody to accept them."""

    def __init__(self, config: Config) -> None:
        self._handed: list[socket.socket] = []
        self._port = _claim(config.host, config.port)
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        sock = _reuse_port_socket(self.config.host, self._port)
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _: list[socket.socket]) -> None:
        """uvicorn's constructor stores the shared sockets here; there are none."""

    def _release(self) -> None:
        for sock in self._handed:
            sock.close()
        self._handed.clear()

    # Each of these starts processes before returning (uvicorn's code); their sockets are theirs now.
    def init_processes(self) -> None:
        super().init_processes()
        self._release()

    def restart_all(self) -> None:
        super().restart_all()
        self._release()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._release()

    def handle_ttin(self) -> None:
        super().handle_ttin()
        self._release()


def _claim(host: str, port: int) -> int:
    """The port the processes will share, checked free with a plain bind first: sockets with
    SO_REUSEPORT would silently join another server of the same user already listening there.
    Port 0 picks a free port."""
    with _socket(host) as probe:
        _bind(probe, host, port)
        chosen: int = probe.getsockname()[1]
    logger.info("Uvicorn running on http://%s:%d with a socket per process (Press CTRL+C to quit)", host, chosen)
    return chosen


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = _socket(host)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    _bind(sock, host, port)
    sock.set_inheritable(True)
    return sock


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _bind(sock: socket.socket, host: str, port: int) -> None:
    try:
        sock.bind((host, port))
    except OSError as error:  # as uvicorn does: the reason, then the process's failure code
        sock.close()
        logger.error(error)
        sys.exit(STARTUP_FAILURE)
