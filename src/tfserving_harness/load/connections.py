"""When a `RestUser` ends its HTTP/1.1 keep-alive connection and opens a new one.

A keep-alive connection stays on the server it first reached: behind a Kubernetes ClusterIP Service,
kube-proxy picks a pod per connection, not per request, so a client that never reconnects never
reaches the pods added after it connected. Servers and proxies bound a connection's life for that
reason (nginx `keepalive_requests` 1000 and `keepalive_time` 1h, Envoy `max_requests_per_connection`
and `max_connection_duration`, an HTTP client pool's maximum age; for gRPC, TF Serving's
`grpc.max_connection_age_ms`). `--rest-connection-max-requests N` ends the connection with its Nth
request, `--rest-connection-max-age T` with the first request sent T seconds or more after it opened,
like nginx's two settings; 0 (the default) never ends it.

The user ends it itself, between two of its requests: the last one carries `Connection: close`
(RFC 9112 section 9.6: the server answers it and closes; TF Serving's libevent echoes the header),
then the user closes its own pooled connection, whatever the server answered, and the next request
connects again. No request is ever sent on a connection the server may be closing, so none fails for
it (geventhttpclient does not retry a POST that was sent, and Locust's FastHttpUser retries nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class ConnectionLimits:
    max_requests: int = 0  # 0: no limit
    max_age: float = 0.0  # seconds; 0: no limit
    clock: Callable[[], float] = time.monotonic
    requests: int = field(default=0, init=False)  # sent on the current connection, this one included
    opened_at: float | None = field(default=None, init=False)  # None: the next request opens a connection

    @property
    def enabled(self) -> bool:
        return self.max_requests > 0 or self.max_age > 0

    def is_last(self) -> bool:
        """Called as a request is sent: True when it must be its connection's last."""
        now = self.clock()
        if self.opened_at is None:
            self.opened_at, self.requests = now, 0
        self.requests += 1
        return (0 < self.max_requests <= self.requests) or (0 < self.max_age <= now - self.opened_at)

    def ended(self) -> None:
        """The connection is gone (ended by the user, or lost with a request): the next request opens one."""
        self.opened_at = None
