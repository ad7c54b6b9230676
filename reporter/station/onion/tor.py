"""Finding, launching and attaching to ``tor``.

**Launching** (``reporter serve --onion``): the station starts its own tor
through stem, with a data directory of its own inside the instance folder
(``tor/``, mode 0700) and this configuration, fed on standard input so no
torrc is written anywhere:

* ``ControlPort auto`` + ``ControlPortWriteToFile``: tor picks a free port on
  127.0.0.1 and writes it in the data directory; ``CookieAuthentication 1``
  with the cookie there too (only this user can read it).
* ``SocksPort 0``: the station makes no connection through Tor, it only
  answers; nothing local can use this tor as a proxy.
* ``SafeLogging 1``: addresses are scrubbed from anything tor logs, and tor
  logs only to its standard output, which the station reads and shows the
  operator (warnings and bootstrap progress); no log file.
* ``AvoidDiskWrites 1``: fewer writes to an SD card.
* ``--defaults-torrc /dev/null``: nothing from the system's tor configuration.
* Ownership: tor is started with ``__OwningControllerProcess`` and the
  controller takes ownership (``TAKEOWNERSHIP``), so tor exits when the
  station does, even after a ``kill -9``: no tor is left publishing an
  address that points at nothing, or holding the data directory's lock.

**Attaching** (``--tor-control PORT|SOCKET``) uses a tor that is already
running (Debian's ``tor`` service, Tor Browser's): cookie authentication
when tor offers it, else a password. The station's service disappears when
the station stops (no ``Detach``).

Every failure is a ``TorError`` whose message says what to install or check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stem
import stem.connection
import stem.control
import stem.process
import stem.socket
import stem.version

from reporter.errors import ConfigError, TorControlError, TorError, TorNotFound
from reporter.station.onion.bridges import Bridges

Say = Callable[[str], None]

TOR_DIR = "tor"
CONTROL_PORT_FILE = "control-port"
# Debian puts tor in /usr/sbin, which is not on an ordinary user's PATH.
SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
LAUNCH_TIMEOUT = 60
INSTALL_HINT = ("install it with 'sudo apt-get install tor' (Debian, Raspberry Pi OS, "
                "Ubuntu), or give its path with --tor-binary")
# What the station sets itself and --tor-config may not change: control,
# authentication, where tor writes, what it logs, and its onion services.
MANAGED = ("datadirectory", "controlport", "controlportwritetofile", "controlsocket",
           "cookieauthentication", "cookieauthfile", "hashedcontrolpassword", "safelogging",
           "log", "runasdaemon", "user", "avoiddiskwrites", "__")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tor_data_dir(instance: Path) -> Path:
    """The station's tor data directory (made, and kept at mode 0700, as tor requires)."""
    path = instance / TOR_DIR
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise TorError(f"cannot make tor's data directory {path}: {exc.strerror}") from None
    return path


def find_tor(binary: str | None = None) -> str:
    """The tor program: ``binary`` if given (a path or a name), else ``tor`` on PATH or in
    the usual system folders; ``TorNotFound`` with what to install."""
    name = binary or "tor"
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return os.path.abspath(name)
        raise TorNotFound(f"{name} is not an executable tor program: {INSTALL_HINT}")
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SEARCH_DIRS))
    if found is None:
        raise TorNotFound(f"tor is not installed (no '{name}' on PATH or in "
                          f"{', '.join(SEARCH_DIRS[:2])}): {INSTALL_HINT}")
    return found


def _run_tor(binary: str, *args: str) -> str:
    try:
        # The operator's own tor program (found by find_tor), with fixed arguments.
        done = subprocess.run([binary, *args], capture_output=True, timeout=30,  # noqa: S603
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TorNotFound(f"{binary} does not run ({exc}): {INSTALL_HINT}") from None
    return done.stdout.decode("utf-8", "replace")


def tor_version(binary: str) -> stem.version.Version:
    """The version of an installed tor (``Tor version 0.4.9.11.``)."""
    match = re.search(r"^Tor version (\S+?)\.?$", _run_tor(binary, "--version"), re.M)
    if match is None:
        raise TorNotFound(f"{binary} did not say which tor version it is; is it tor? "
                          + INSTALL_HINT)
    return stem.version.Version(match.group(1))


def has_pow_module(binary: str) -> bool:
    """Whether this tor was built with the proof-of-work defence (``pow: yes``)."""
    return bool(re.search(r"^pow: yes$", _run_tor(binary, "--list-modules"), re.M))


def _quote(path: str) -> str:
    """A path as a torrc value: quoted, so spaces survive (tor unquotes C-style)."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_extra_config(path: Path) -> list[tuple[str, str]]:
    """``Option value`` lines from ``--tor-config`` (a proxy, a private test network).

    Lines that would change what the station manages (control, authentication,
    logging, the data directory, onion services) are refused, naming the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the tor configuration file {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    options: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        where = f"{path}, line {number}"
        if not _OPTION.fullmatch(name) or not value.strip() or not line.isprintable():
            raise ConfigError(f"{where}: a tor option line is 'Name value'")
        lowered = name.lower()
        if lowered.startswith("hiddenservice") or any(
                lowered == m or (m == "__" and lowered.startswith(m)) for m in MANAGED):
            raise ConfigError(f"{where}: {name} is set by reporter itself and cannot be "
                              "changed with --tor-config")
        options.append((name, value.strip()))
    return options


def launch_config(data_dir: Path, bridges: Bridges | None,
                  extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The torrc lines of the station's own tor, in order (later lines win in tor)."""
    lines = [
        ("DataDirectory", _quote(str(data_dir))),
        ("ControlPort", "auto"),
        ("ControlPortWriteToFile", _quote(str(data_dir / CONTROL_PORT_FILE))),
        ("ControlPortFileGroupReadable", "0"),
        ("CookieAuthentication", "1"),
        ("CookieAuthFileGroupReadable", "0"),
        ("SocksPort", "0"),
        ("SafeLogging", "1"),
        ("Log", "notice stdout"),
        ("AvoidDiskWrites", "1"),
    ]
    if bridges is not None:
        for name, values in bridges.torrc().items():
            lines.extend((name, value) for value in values)
    return lines + extra


@dataclass
class Tor:
    """A controller connected to a tor we launched (``process``) or attached to."""

    controller: Any  # stem.control.Controller (stem has no type hints)
    version: stem.version.Version
    description: str
    process: subprocess.Popen[bytes] | None = None
    pow_module: bool | None = None  # None: unknown (an attached tor)
    _threads: list[threading.Thread] = field(default_factory=list)
    _closing: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        """Close the controller; a tor we launched exits with it (and is waited for)."""
        self._closing.set()
        try:
            self.controller.close()
        finally:
            if self.process is not None:
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.terminate()
                    try:
                        self.process.wait(5)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait()


_TIMESTAMP = re.compile(r"^\w{3} \d{1,2} [\d:.]+ ")


def _tor_line(line: str) -> str | None:
    """What of one line of tor's output the operator sees, without tor's timestamp."""
    text = _TIMESTAMP.sub("", line.strip())
    if "[warn]" in text or "[err]" in text or "Bootstrapped" in text:
        return "tor: " + text.replace("[notice] ", "")
    return None


def _problems(lines: list[str]) -> list[str]:
    """tor's warnings and errors that say what went wrong, without the generic ones."""
    generic = ("see warnings above", "running Tor as root")
    return [re.sub(r"^tor: \[(warn|err)\] ", "", line) for line in lines
            if ("[warn]" in line or "[err]" in line) and not any(g in line for g in generic)]


def _forward(stream: Any, say: Say, tor: Tor | None = None) -> None:
    """Read tor's output until it exits (a full pipe would stop tor); with ``tor``, say
    so if it exits while the station still runs."""
    try:
        for raw in iter(stream.readline, b""):
            shown = _tor_line(raw.decode("utf-8", "replace"))
            if shown is not None:
                say(shown)
    except (OSError, ValueError):
        pass
    if tor is not None and tor.process is not None and not tor._closing.is_set():
        code = tor.process.wait()
        if not tor._closing.is_set():
            say(f"warning: tor stopped (exit status {code}): the onion service is gone until "
                "the station is restarted; the station still answers on its own address")


def launch(instance: Path, *, binary: str | None, bridges: Bridges | None,
           extra: list[tuple[str, str]], say: Say) -> Tor:
    """Start the station's own tor (offline-safe: returns at "Bootstrapped 0%")."""
    program = find_tor(binary)
    version = tor_version(program)
    data_dir = tor_data_dir(instance)
    if not str(data_dir).isprintable():
        raise ConfigError(f"tor cannot be given the folder {data_dir!r} (it has a line break "
                          "or control character): move the station to a plainer path")
    (data_dir / CONTROL_PORT_FILE).unlink(missing_ok=True)
    config = "".join(f"{name} {value}\n" for name, value in
                     launch_config(data_dir, bridges, extra))
    seen: list[str] = []

    def remember(line: str) -> None:
        shown = _tor_line(line)
        if shown is not None:
            seen.append(shown)

    try:
        process = stem.process.launch_tor(
            program, ["-f", "-", "--defaults-torrc", os.devnull], None,
            completion_percent=0, init_msg_handler=remember, timeout=LAUNCH_TIMEOUT,
            take_ownership=True, close_output=False, stdin=config)
    except OSError as exc:
        detail = next(iter(_problems(seen)), str(exc))
        raise TorError(f"tor did not start: {detail.rstrip('.')}. Check the options given with "
                       "--tor-config and --bridges, that no other station uses "
                       f"{data_dir}, and that tor runs at all ('{program} --version')") from None
    for line in seen:
        say(line)
    tor = Tor(None, version, f"tor {version} ({program})", process,
              pow_module=has_pow_module(program))
    for stream, watch in ((process.stdout, tor), (process.stderr, None)):
        thread = threading.Thread(target=_forward, args=(stream, say, watch), daemon=True,
                                  name="tor-output")
        thread.start()
        tor._threads.append(thread)
    try:
        tor.controller = _connect_launched(data_dir)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return tor


def _connect_launched(data_dir: Path) -> Any:
    path = data_dir / CONTROL_PORT_FILE
    deadline = time.monotonic() + 10  # tor writes it as it opens the port, before 0 %
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        written = path.read_text(encoding="ascii").strip()
        host, _, port = written.removeprefix("PORT=").rpartition(":")
        controller = stem.control.Controller.from_port(address=host, port=int(port))
    except (OSError, ValueError, stem.SocketError) as exc:
        raise TorError(f"tor started but its control port cannot be reached ({exc}); "
                       f"check {data_dir}") from None
    try:
        controller.authenticate()
    except stem.connection.AuthenticationFailure as exc:
        controller.close()
        raise TorError(f"tor started but refused its own cookie ({exc}); check that "
                       f"{data_dir} belongs to this user") from None
    return controller


def attach(target: str, *, password: str | None, say: Say) -> Tor:
    """Connect to a running tor's control port (a number, on 127.0.0.1) or socket (a path)."""
    where = (f"tor's control port {target} on 127.0.0.1" if target.isdigit()
             else f"tor's control socket {target}")
    try:
        if target.isdigit():
            port = int(target)
            if not 0 < port < 65536:
                raise ConfigError(f"--tor-control {target}: a port is 1 to 65535")
            controller = stem.control.Controller.from_port(address="127.0.0.1", port=port)
        else:
            controller = stem.control.Controller.from_socket_file(path=target)
    except stem.SocketError as exc:
        hint = ("is tor running, with 'ControlPort " + target + "' in its torrc?"
                if target.isdigit() else
                "is tor running, with 'ControlSocket " + target + "' in its torrc, and may "
                "this user open it (Debian: sudo adduser $USER debian-tor, then log in again)?")
        raise TorControlError(f"cannot reach {where} ({exc}): {hint}") from None
    try:
        controller.authenticate(password=password)
    except stem.connection.MissingPassword:
        controller.close()
        raise TorControlError(f"{where} asks for a password: give it with "
                              "--tor-password-file FILE or REPORTER_TOR_PASSWORD") from None
    except stem.connection.PasswordAuthFailed:
        controller.close()
        raise TorControlError(f"{where} refused the password given") from None
    except stem.connection.UnreadableCookieFile as exc:
        controller.close()
        raise TorControlError(
            f"{where} wants its cookie file {exc.cookie_path}, which this user cannot read: "
            "add the user to tor's group (Debian: sudo adduser $USER debian-tor, then log "
            "in again), or use a password") from None
    except stem.connection.AuthenticationFailure as exc:
        controller.close()
        raise TorControlError(f"{where} did not let reporter in ({exc}); is it tor's "
                              "control port (not its SOCKS port)?") from None
    except (stem.ProtocolError, stem.SocketError) as exc:
        controller.close()
        raise TorControlError(f"{where} does not answer as tor does ({exc}); is it tor's "
                              "control port (not its SOCKS port)?") from None
    version = controller.get_version()
    say(f"Attached to tor {version} through {where}.")
    return Tor(controller, version, f"tor {version} (attached)")
