"""The front: one thread that holds every connection until its request is ready.

A worker thread is precious (there are ``threads`` of them); a waiting
connection is not (a file descriptor and a few hundred bytes). So one thread
watches every socket with the kernel's readiness interface (epoll), reads
request heads as their bytes come, and hands a connection to a worker only
once its head is complete, and, for a body of at most ``small_body_bytes``
(every text-only report), once that body is complete too; an upload waits
here until its first ``small_body_bytes`` have come, so a body that crawls
never reaches the queue for upload slots. Idle keep-alive
connections wait here as well. A connection that has not finished its head
within ``head_timeout`` is closed; past ``max_connections``, or past the
front's memory budget, new connections are shed. Each of these is counted
and summarised in the log once a minute, with no client data.

A worker sends its answer itself, and blocks while the client's socket
buffers are full. So a connection's next request (pipelined, or sent without
reading the previous answer) goes to a worker only once the client has taken
every byte of the answers before it (the socket's send queue is empty): a
client that never reads holds a file descriptor here, never a worker, and is
closed after ``send_timeout``. (Without this, a few connections with
requests queued and answers unread held every worker in ``sendall`` for a
minute at a time.)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import selectors
import socket
import struct
import termios
import threading
import time
from collections import deque

import h11

from reporter.web.server.connection import Connection
from reporter.web.server.limits import Incidents, ServerLimits
from reporter.web.server.workers import CLOSE, KEEP, Job, Workers

log = logging.getLogger("reporter")
RECV_BYTES = 64 * 1024
_LISTENER = object()
_WAKE = object()
# Linux's SIOCOUTQ (the same number as TIOCOUTQ): bytes sent on a TCP socket that
# its peer has not acknowledged yet. None elsewhere: answers are then not awaited.
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)
# How often a held request checks whether its client has read what it was sent.
HELD_POLL = 0.05
# The most pieces a body may come in while the front reads it (h11 yields one per
# chunk of a chunked body, or per read): a browser's 64 KiB comes in a few dozen
# (Tor's cells are 498 bytes: 132 at most). One-byte chunks cost the front, the one
# thread every connection waits on, tens of microseconds each: 64 Ki of them per
# request from four local connections kept the desk from answering for a minute.
MAX_BODY_PIECES = 1024


def unread_answer_bytes(sock: socket.socket) -> int:
    """Bytes of this connection's earlier answers its client has not taken yet."""
    if _OUTQ is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0" * 4))[0])
    except OSError:
        return 0


class Front:
    def __init__(self, listener: socket.socket, limits: ServerLimits,
                 incidents: Incidents) -> None:
        self._listener = listener
        self._limits = limits
        self._incidents = incidents
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._returns: deque[tuple[Connection, str]] = deque()
        # In the selector, oldest first (a dict keeps insertion order); or, if in
        # ``_held`` as well, a complete request waiting for its client to read the
        # answers before it (not in the selector: nothing more is read from it).
        self._waiting: dict[Connection, None] = {}
        self._held: dict[Connection, Job] = {}
        self._open = 0                            # every connection not yet closed
        self._open_lock = threading.Lock()
        self._buffered = 0
        self._buffer_lock = threading.Lock()
        self._stopping = threading.Event()
        self.workers: Workers | None = None
        self._accept_paused = False

    # --- called from worker threads -------------------------------------------

    def give_back(self, conn: Connection, mode: str) -> None:
        self._returns.append((conn, mode))
        self._wake()

    def release(self, nbytes: int) -> None:
        with self._buffer_lock:
            self._buffered -= nbytes

    def stop(self) -> None:
        self._stopping.set()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # --- the loop ----------------------------------------------------------------

    def run(self) -> None:
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        next_sweep = time.monotonic() + 1.0
        try:
            while not self._stopping.is_set():
                for key, _mask in self._selector.select(timeout=HELD_POLL if self._held
                                                        else 1.0):
                    if key.data is _LISTENER:
                        self._accept()
                    elif key.data is _WAKE:
                        self._take_returns()
                    else:
                        self._readable(key.data)
                if self._held:
                    self._release_held()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    self._resume_accepting()
                    self._incidents.maybe_log()
                    next_sweep = now + 1.0
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._waiting):
            self._close(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self) -> None:
        for _ in range(256):
            try:
                sock, _address = self._listener.accept()  # the address is never kept
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # Out of file descriptors: close the connection that has waited
                # longest for a head, or stop accepting for a moment.
                self._incidents.count("connections shed: out of file descriptors")
                if not self._shed_oldest():
                    self._pause_accepting()
                return
            with self._open_lock:
                full = self._open >= self._limits.max_connections
            if full:
                # Make room by closing the connection that has waited longest
                # for its head: a flood of idle sockets pushes out its own
                # oldest, while a monitor who sends a request at once gets in.
                self._incidents.count("connections shed: too many open")
                if not self._shed_oldest():
                    sock.close()
                    continue
            with self._open_lock:
                self._open += 1
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, self._new_http())
            self._wait(conn)

    def _shed_oldest(self) -> bool:
        for conn in self._waiting:
            if not conn.draining:
                self._close(conn)
                return True
        return False

    def _pause_accepting(self) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)
        self._accept_paused = True

    def _resume_accepting(self) -> None:
        if self._accept_paused:
            self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
            self._accept_paused = False

    def _new_http(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_head_bytes)

    def _wait(self, conn: Connection) -> None:
        conn.deadline = time.monotonic() + (self._limits.linger if conn.draining
                                            else self._limits.head_timeout)
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):
            self._close(conn)
            return
        self._waiting[conn] = None

    def _unwait(self, conn: Connection) -> None:
        self._waiting.pop(conn, None)
        self._held.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)

    def _close(self, conn: Connection) -> None:
        self._unwait(conn)
        if conn.buffered:
            self.release(conn.buffered)
            conn.buffered = 0
        conn.close()
        with self._open_lock:
            self._open -= 1

    def _take_returns(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._returns:
            conn, mode = self._returns.popleft()
            if self._stopping.is_set() or mode == CLOSE:
                self._close(conn)
                continue
            conn.sock.setblocking(False)
            conn.request = None
            conn.body, conn.body_bytes, conn.body_pieces, conn.upload = [], 0, 0, False
            if mode == KEEP:
                self._wait(conn)
                # A pipelined request may already be in h11's buffer.
                self._advance(conn)
            else:
                self._linger(conn)

    def _linger(self, conn: Connection) -> None:
        """Close after the answer: stop sending, drop what still arrives for a moment."""
        conn.draining = True
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        self._wait(conn)

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._waiting if c.deadline <= now]:
            if conn in self._held:
                self._incidents.count("connections closed: answers left unread")
            elif not conn.draining:
                started = conn.http.their_state is not h11.IDLE or conn.buffered > 0
                if started:
                    self._incidents.count("connections closed: request head too slow")
            self._close(conn)

    # --- reading -------------------------------------------------------------------

    def _readable(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if conn.draining:
            if not data:
                self._close(conn)
            return
        if not data:
            self._close(conn)  # closed while idle or mid-head: nothing to answer
            return
        with self._buffer_lock:
            over = self._buffered + len(data) > self._limits.front_buffer_bytes
            if not over:
                self._buffered += len(data)
        if over:
            self._incidents.count("connections shed: front buffer full")
            self._close(conn)
            return
        conn.buffered += len(data)
        conn.http.receive_data(data)
        self._advance(conn)

    def _advance(self, conn: Connection) -> None:
        while True:
            try:
                event = conn.http.next_event()
            except h11.RemoteProtocolError as exc:
                self._incidents.count("requests refused: malformed")
                self._refuse(conn, exc.error_status_hint)
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.ConnectionClosed):
                self._close(conn)
                return
            if isinstance(event, h11.Request):
                if not self._accept_request(conn, event):
                    return
            elif isinstance(event, h11.Data):
                conn.body_pieces += 1
                if conn.body_pieces > MAX_BODY_PIECES:
                    self._incidents.count("requests refused: body in too many pieces")
                    self._refuse(conn, 400)
                    return
                conn.body.append(bytes(event.data))
                conn.body_bytes += len(event.data)
                if conn.upload and conn.body_bytes >= self._limits.small_body_bytes:
                    # Proof of a real upload: only now may it wait for a slot.
                    prefix = b"".join(conn.body)
                    conn.body, conn.body_bytes = [], 0
                    self._dispatch(Job(conn, conn.request, body=None, prefix=prefix))
                    return
            elif isinstance(event, h11.EndOfMessage):
                body = b"".join(conn.body)
                conn.body, conn.body_bytes = [], 0
                self._dispatch(Job(conn, conn.request, body=body))
                return

    def _accept_request(self, conn: Connection, request: h11.Request) -> bool:
        """Decide where a request with a complete head goes; False if it left the front."""
        conn.request = request
        if len(request.target) > self._limits.max_target_bytes:
            self._incidents.count("requests refused: address too long")
            self._refuse(conn, 414)
            return False
        # h11 bounds a head that arrives in pieces; one that arrives whole is
        # measured here (the head's size, give or take its line endings).
        head_bytes = len(request.target) + sum(len(n) + len(v) + 4 for n, v in request.headers)
        if head_bytes > self._limits.max_head_bytes:
            self._incidents.count("requests refused: head too large")
            self._refuse(conn, 431)
            return False
        length: int | None = None
        chunked = False
        for name, value in request.headers:
            if name == b"content-length":
                length = int(value)  # h11 has checked it is digits, and one value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and length > self._limits.max_body_bytes:
            self._refuse(conn, 413)
            return False
        # An upload (a larger body, or one of unknown length) stays here too
        # until its first ``small_body_bytes`` have come, within the same
        # deadline as the head: a trickle never reaches the upload queue.
        conn.upload = chunked or (length is not None and length > self._limits.small_body_bytes)
        if conn.http.they_are_waiting_for_100_continue:
            try:
                conn.sock.send(conn.http.send(h11.InformationalResponse(status_code=100,
                                                                        headers=[])) or b"")
            except OSError:
                self._close(conn)
                return False
        return True

    def _refuse(self, conn: Connection, status: int) -> None:
        self._dispatch(Job(conn, conn.request, error=status))

    def _dispatch(self, job: Job) -> None:
        if self.workers is None:
            raise RuntimeError("the front runs only with its workers attached")
        self._unwait(job.conn)
        if unread_answer_bytes(job.conn.sock) > 0:
            # The client has not read what it was sent: the request waits here,
            # not in a worker that would block sending it more.
            job.conn.deadline = time.monotonic() + self._limits.send_timeout
            self._waiting[job.conn] = None
            self._held[job.conn] = job
            return
        self.workers.submit(job)

    def _release_held(self) -> None:
        for conn, job in list(self._held.items()):
            if unread_answer_bytes(conn.sock) == 0:
                self._dispatch(job)
