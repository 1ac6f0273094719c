"""The Flower processes of a federation: start a SuperLink or a SuperNode, wait until it
serves, stop it with everything it started."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fedcare.exceptions import ConfigError, FederationError

from ..flwr_cli import BIN, flower_env
from .layout import (
    IN_MEMORY,
    coordinator_settings,
    read_toml,
    reregister_sites,
    write_cli_config,
    write_toml,
)

__all__ = ["FLOWER_EXIT_CODES", "ProcessExited", "descendants", "node_config_arg",
           "speaks_tls", "start_coordinator", "start_site", "stop_process"]

_log = logging.getLogger(__name__)

#: What Flower 1.41's exit codes mean. Flower logs them (``Exit Code: 305``); the process
#: itself exits with status 1. See :class:`ProcessExited`.
FLOWER_EXIT_CODES: dict[int, str] = {
    100: "invalid SuperLink arguments",
    302: "the site's private key could not be read (expects an OpenSSH EC key)",
    303: "the site was started without TLS (--insecure) but with an authentication key: "
         "SuperNode authentication requires TLS",
    305: "the SuperLink refused or could not be reached (e.g. the site's key is not "
         "registered, TLS mismatch, wrong address)",
}


class ProcessExited(FederationError):
    """A SuperLink or SuperNode process stopped while being started.

    Flower 1.41 exits with status 1 for every error and logs its own code
    (``Exit Code: 305``); ``flower_code`` is that code (None if none was logged) and
    ``returncode`` the process's exit status.
    """

    def __init__(self, message: str, *, returncode: int | None,
                 flower_code: int | None) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.flower_code = flower_code


def _flower_code(log_text: str) -> int | None:
    codes = re.findall(r"Exit Code: (\d+)", log_text)
    return int(codes[-1]) if codes else None


def _describe_exit(returncode: int | None, flower_code: int | None) -> str:
    if flower_code is None:
        return f"exit status {returncode}"
    meaning = FLOWER_EXIT_CODES.get(flower_code)
    return (f"Flower exit code {flower_code}" + (f" ({meaning})" if meaning else "")
            + f", exit status {returncode}")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15, *,
                 kill: bool = False) -> int | None:
    """Stop a process started here and everything it started; return its exit code.

    SIGTERM to its session (it was started with ``start_new_session``) and to its
    descendants that left it (Flower starts SuperExec, and SuperExec the ServerApp,
    detached), SIGKILL after ``timeout`` seconds. With ``kill``, SIGKILL at once: no
    clean shutdown, as in a crash or a power cut.
    """
    first = signal.SIGKILL if kill else signal.SIGTERM
    below = descendants(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, first)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in below:
        _signal(pid, first)
    deadline = time.monotonic() + timeout
    alive = below
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()
                 and "Z" not in _state(pid)]
        if alive:
            time.sleep(0.1)
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return proc.returncode


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _warn_insecure(what: str) -> None:
    message = (f"INSECURE: {what} is running WITHOUT TLS and WITHOUT SuperNode "
               "authentication; any process that can reach it can join the study and read "
               "model updates. Use only for local tests.")
    warnings.warn(message, stacklevel=3)
    _log.warning(message)


def start_coordinator(directory: str | Path, *, insecure: bool = False,
                      timeout: float = 60) -> subprocess.Popen[bytes]:
    """Start the coordinator's SuperLink and wait until its HTTPS API answers.

    TLS with the directory's certificates and SuperNode authentication (only enrolled
    keys may connect) unless ``insecure``; runtime dependency installation is disabled;
    state in ``state.db``, or in memory when the directory was made with
    ``state="memory"`` (then the enrolled sites' keys are registered again once it
    answers); logs in ``superlink.log``. The process is its own session
    leader: stop it with :func:`stop_process`.

    Raises
    ------
    ProcessExited
        The SuperLink stopped (Flower's exit code and the log tail in the message).
    FederationError
        It did not answer within ``timeout`` seconds.
    """
    import httpx

    root, settings = coordinator_settings(directory)
    c = settings["coordinator"]
    log_file = Path(c["log"])
    args = [str(BIN / "flower-superlink"), "--host", c["bind"], "--port", str(c["port"]),
            "--database", c["database"], "--disable-runtime-dependency-installation",
            "--isolation", "subprocess", "--log-file", str(log_file)]
    if insecure:
        _warn_insecure("the coordinator (SuperLink)")
        args.append("--insecure")
    else:
        args += ["--ssl-ca-certfile", c["ca_cert"], "--ssl-certfile", c["cert"],
                 "--ssl-keyfile", c["key"], "--enable-supernode-auth"]
    write_cli_config(root, settings, insecure)
    out = open(root / "superlink.out", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(args, env=flower_env(Path(c["flwr_home"])), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        out.close()
    host = "127.0.0.1" if c["bind"] in {"0.0.0.0", "::"} else c["bind"]
    url = f"{'http' if insecure else 'https'}://{host}:{c['port']}/health"
    verify: ssl.SSLContext | bool = (False if insecure
                                     else ssl.create_default_context(cafile=c["ca_cert"]))
    if not insecure and host not in c["hosts"]:
        verify = ssl.create_default_context(cafile=c["ca_cert"])
        verify.check_hostname = False
    try:  # Ctrl-C or SIGTERM while waiting: stop what was started, then stop
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                text = (root / "superlink.out").read_text(errors="replace")
                code = _flower_code(text)
                raise ProcessExited(
                    f"the SuperLink exited: {_describe_exit(proc.returncode, code)}; "
                    f"log {log_file}: {_tail(root / 'superlink.out')}",
                    returncode=proc.returncode, flower_code=code)
            try:
                up = httpx.get(url, timeout=1.0, verify=verify).is_success
            except httpx.HTTPError:
                up = False
            if up:
                if c["database"] == IN_MEMORY and not insecure:
                    try:
                        reregister_sites(root)
                    except BaseException:
                        stop_process(proc)
                        raise
                return proc
            if time.monotonic() > deadline:
                stop_process(proc)
                raise FederationError(f"the SuperLink did not answer {url} within {timeout:.0f} s; "
                                      f"see {log_file}")
            time.sleep(0.2)
    except KeyboardInterrupt:
        stop_process(proc)
        raise


def _node_config_file(path: Path, node_config: Mapping[str, Any]) -> Path:
    """Write the node config as TOML (``--node-config FILE.toml``: no shell quoting)."""
    for key, value in node_config.items():
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(f"node_config['{key}'] must be a str, int, float or bool, "
                              f"got {type(value).__name__}")
    write_toml(path, dict(node_config))
    return path


def node_config_arg(node_config: Mapping[str, Any]) -> str:
    """The inline ``--node-config`` form, e.g. ``site="cleveland" partition-id=0``.

    Values are TOML literals; strings may not contain spaces or quotes (Flower splits on
    whitespace) -- :func:`start_site` writes a TOML file instead, which has no such limit.
    """
    parts = []
    for key, value in node_config.items():
        if isinstance(value, str):
            if any(c.isspace() for c in value) or '"' in value:
                raise ConfigError(f"node_config['{key}'] cannot be passed inline: {value!r}")
            parts.append(f'{key}="{value}"')
        else:
            parts.append(f"{key}={json.dumps(value)}")
    return " ".join(parts)


def speaks_tls(address: str, timeout: float = 5.0) -> bool | None:
    """Whether the server at ``host:port`` completes a TLS handshake; None if nothing
    answers there (not started yet, wrong address).  No certificate is checked: this only
    tells a TLS coordinator from one started with ``--insecure``."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, ValueError):
        return None
    with sock:
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return True
        except (ssl.SSLError, OSError):
            return False


def start_site(
    directory: str | Path, *, coordinator_address: str | None = None,
    ca_cert: str | Path | None = None, data_node_config: Mapping[str, Any] | None = None,
    clientappio_port: int = 9094, insecure: bool = False, authenticate: bool = True,
    timeout: float = 60, max_retries: int | None = 3,
) -> subprocess.Popen[bytes]:
    """Start a site's SuperNode and wait until the SuperLink has accepted it.

    Parameters
    ----------
    directory : str or Path
        The site directory (:func:`init_site`).
    coordinator_address, ca_cert : optional
        ``host:port`` of the SuperLink and the study CA's certificate; recorded in
        ``site.toml`` (taken from it when omitted).
    data_node_config : mapping, optional
        The node config the ClientApp reads (``{"site": name}`` by default), written
        to ``node_config.toml`` and passed as ``--node-config``; ``site-config`` (the
        site's ``site.toml``: its policy, units, missing-value codes and cache folder)
        is added when absent, as ``fedcare site start`` does.
    clientappio_port : int
        The SuperNode's local Runtime (ClientAppIo) port; one per SuperNode on a host.
    insecure : bool
        No TLS (loud warning). With ``authenticate`` still true Flower refuses to
        start (exit code 303): an insecure coordinator has no node authentication,
        so pass ``authenticate=False`` too.
    authenticate : bool
        Pass the site's private key (``--auth-supernode-private-key``).
    timeout : float
        Seconds to wait for the SuperLink to accept the node.
    max_retries : int or None
        Connection attempts before the SuperNode gives up (None: forever).

    Raises
    ------
    ProcessExited
        The SuperNode stopped; ``flower_code`` is Flower's exit code, e.g. 305 when the
        SuperLink refused its key (not enrolled, or revoked) and 303 for ``insecure``
        with a key.
    FederationError
        The SuperNode was not accepted within ``timeout`` seconds.
    ConfigError
        No address or CA certificate; or the coordinator answers with TLS while the site
        is ``insecure``, or without TLS while the site is not (checked before the
        SuperNode starts, so such a site is refused at once rather than after
        ``timeout``).
    """
    root = Path(directory).resolve()
    toml_path = root / "site.toml"
    settings = read_toml(toml_path)
    s = settings["site"]
    if coordinator_address is not None:
        s["coordinator_address"] = coordinator_address
    if ca_cert is not None:
        s["ca_cert"] = str(Path(ca_cert).resolve())
    if not s["coordinator_address"]:
        raise ConfigError(f"{toml_path}: no coordinator address (pass coordinator_address)")
    if not insecure and not s["ca_cert"]:
        raise ConfigError(f"{toml_path}: no CA certificate (pass ca_cert)")
    tls = speaks_tls(s["coordinator_address"])
    if tls is True and insecure:
        raise ConfigError(
            f"site '{s['name']}': the coordinator at {s['coordinator_address']} uses TLS; "
            "start the site without --insecure (insecure=False), with the coordinator's "
            "ca.pem (--ca-cert)")
    if tls is False and not insecure:
        raise ConfigError(
            f"site '{s['name']}': the coordinator at {s['coordinator_address']} does not "
            "speak TLS (it was started with --insecure, or another service listens there); "
            "a site connects only over TLS unless it is started with --insecure too")
    write_toml(toml_path, settings)
    node_config = dict(data_node_config) if data_node_config is not None else {"site": s["name"]}
    node_config.setdefault("site-config", str(toml_path.resolve()))
    config_file = _node_config_file(root / "node_config.toml", node_config)
    args = [str(BIN / "flower-supernode"), "--superlink", s["coordinator_address"],
            "--node-config", str(config_file), "--host", "127.0.0.1",
            "--port", str(clientappio_port), "--isolation", "subprocess"]
    if max_retries is not None:
        args += ["--max-retries", str(max_retries)]
    if insecure:
        _warn_insecure(f"site '{s['name']}' (SuperNode)")
        args.append("--insecure")
    else:
        args += ["--root-certificates", s["ca_cert"]]
    if authenticate:
        args += ["--auth-supernode-private-key", s["private_key"]]
    log_file = root / "supernode.log"
    start = log_file.stat().st_size if log_file.exists() else 0
    out = open(log_file, "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(args, env=flower_env(Path(s["flwr_home"])), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        out.close()
    try:  # Ctrl-C or SIGTERM while waiting: stop what was started, then stop
        deadline = time.monotonic() + timeout
        while True:
            with open(log_file, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            if "SuperNode ID:" in text:
                return proc
            if proc.poll() is not None:
                stop_process(proc)  # its detached SuperExec, if one was started
                code = _flower_code(text)
                raise ProcessExited(
                    f"site '{s['name']}': the SuperNode exited: "
                    f"{_describe_exit(proc.returncode, code)}; log {log_file}: {_tail(log_file)}",
                    returncode=proc.returncode, flower_code=code)
            if time.monotonic() > deadline:
                stop_process(proc)
                raise FederationError(f"site '{s['name']}': the SuperLink did not accept the "
                                      f"SuperNode within {timeout:.0f} s; see {log_file}")
            time.sleep(0.2)
    except KeyboardInterrupt:
        stop_process(proc)
        raise
