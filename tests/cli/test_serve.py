"""``reporter serve`` when it cannot listen: one clear line naming the fix."""

from __future__ import annotations

import socket
from collections.abc import Callable

from tests.reviewing import run  # noqa: F401  (the CLI runner fixture)


def test_a_busy_port_is_named_with_the_way_out(run: Callable[..., tuple[int, str, str]]) -> None:  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _out, err = run("serve", "--port", str(port))
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert f"--port {port + 1}" in err and f"make run PORT={port + 1}" in err
    assert "unexpected" not in err and "Traceback" not in err


def test_a_host_that_is_not_this_machine(run: Callable[..., tuple[int, str, str]]) -> None:  # noqa: F811
    code, _out, err = run("serve", "--host", "192.0.2.1", "--port", "8099")
    assert code == 1
    assert "192.0.2.1 is not an address of this machine" in err
