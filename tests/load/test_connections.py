"""`RestUser`'s keep-alive connections behind a balancer that, like kube-proxy for a ClusterIP Service,
picks a backend per connection: a backend that joins after the users connected gets nothing from users
that keep their connection, and its share from users that end theirs (--rest-connection-max-requests),
without a failed request."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

import pytest

pytestmark = pytest.mark.load

USERS = 10


class ConnectionBalancer(socketserver.ThreadingTCPServer):
    """A TCP proxy to one stand-in that assigns each new connection to the next of its backends in turn
    (round robin; kube-proxy's iptables mode picks at random) and counts the connections each got. The
    backends are labels only: they all forward to `upstream`, which is enough to see where connections go.
    The second backend joins once the first has accepted `join_after` connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: int, join_after: int):
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream, self.join_after = upstream, join_after
        self.lock = threading.Lock()
        self.backends = ["first"]
        self.connections = {"first": 0, "joined later": 0}
        self.turn = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def pick(self) -> str:
        with self.lock:
            backend = self.backends[self.turn % len(self.backends)]
            self.turn += 1
            self.connections[backend] += 1
            if len(self.backends) == 1 and self.connections["first"] >= self.join_after:
                self.backends.append("joined later")
            return backend

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Forward(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.pick()
        with socket.create_connection(("127.0.0.1", self.server.upstream)) as upstream:
            back = threading.Thread(target=_pump, args=(upstream, self.request))
            back.start()
            _pump(self.request, upstream)
            back.join()


def _pump(source: socket.socket, destination: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            destination.sendall(data)
    with contextlib.suppress(OSError):
        destination.shutdown(socket.SHUT_WR)


def _run(locust, url: str, *options: str):
    # --metrics-url none: the server-side reads would be connections of their own.
    run = locust("RestUser", "-H", url, "--rate", "100", "--max-fail-ratio", "0", "--metrics-url", "none", *options,
                 users=USERS, seconds=5, warmup=1)
    assert run.returncode == 0, run.output
    return run


def test_kept_connections_never_reach_a_backend_that_joined_later(standin, locust):
    # The metadata GET (its own connection) and one connection per user, all made at the start.
    with ConnectionBalancer(standin.rest_port, join_after=USERS + 1) as balancer:
        run = _run(locust, balancer.url)
    assert run.summary["client"]["requests"] > 100
    assert balancer.connections == {"first": USERS + 1, "joined later": 0}


def test_connections_ended_after_n_requests_spread_over_a_backend_that_joined_later(standin, locust):
    with ConnectionBalancer(standin.rest_port, join_after=USERS + 1) as balancer:
        run = _run(locust, balancer.url, "--rest-connection-max-requests", "5")
    client = run.summary["client"]
    assert client["requests"] > 100 and client["failures"] == 0, client
    # Each user's connection carries 5 requests (warm-up ones too; the last of a user may carry fewer).
    assert sum(balancer.connections.values()) >= client["requests"] / 5
    # Taking turns, the backend that joined later got half of the connections made after it joined.
    assert balancer.connections["joined later"] >= (sum(balancer.connections.values()) - USERS - 1) / 2 - 1, balancer.connections
