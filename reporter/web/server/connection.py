"""One client connection, as the front and the workers pass it between them."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import h11


@dataclass(eq=False)
class Connection:
    """A socket and its HTTP/1.1 state machine (h11).

    The front owns it while it waits for a request head; a worker owns it
    from the moment the head (and a small body) is complete until the answer
    is sent; then it goes back to the front, to wait for the next request or
    to be closed. Never two owners at once.
    """

    sock: socket.socket
    http: h11.Connection
    deadline: float = 0.0
    # Bytes of this connection the front counts against its buffer budget.
    buffered: int = 0
    # While the front reads a small body, or an upload's first bytes: the pieces so far.
    body: list[bytes] = field(default_factory=list)
    body_bytes: int = 0
    # How many pieces (h11 Data events: chunks, or reads) that body came in.
    body_pieces: int = 0
    # The body is an upload: the front reads its first ``small_body_bytes``,
    # then hands it to an upload slot with those bytes as a prefix.
    upload: bool = False
    request: h11.Request | None = None
    # Set once the answer has been sent with the body unread: read and drop
    # until the client closes or ``deadline``, then close.
    draining: bool = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
