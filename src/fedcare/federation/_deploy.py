"""Run a study on a real Flower deployment: one SuperLink (the coordinator) and one
SuperNode per site, over TLS with SuperNode authentication.

Everything a party needs lives in a directory it owns:

``coordinator/``
    ``ca.key``/``ca.pem`` (the study's certificate authority), ``superlink.key``/
    ``superlink.pem`` (the SuperLink's TLS identity, signed by the CA),
    ``coordinator.toml`` (address, port, paths and the enrolled sites), ``state.db``
    (the SuperLink's database: registrations survive a restart), ``superlink.log``,
    ``home/`` (the SuperLink's ``FLWR_HOME``), ``cli/`` (the ``flwr`` CLI's
    ``FLWR_HOME`` with a connection to the SuperLink) and ``runs/`` (one directory per
    submitted study, with its ``result.json``).
``site/``
    ``node.key`` (OpenSSH EC P-384 private key, mode 0600), ``node.pub`` (its public
    half, what the coordinator registers), ``site.toml``, ``node_config.toml``,
    ``supernode.log`` and ``home/``.

Flower 1.41 serves its Fleet, Control and ServerAppIo APIs over one HTTPS port (the
SuperLink's ``--port``, 8000 by default); the older gRPC ports (9091-9093) are no
longer opened. Each SuperNode also opens a local Runtime (ClientAppIo) HTTP port
(``--port``, 9094 by default) that must differ between SuperNodes on one host.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedcare.exceptions import ConfigError, FederationError
from fedcare.study._config import StudyConfig

from ._simulation import write_flower_app

__all__ = [
    "EXIT_CODES",
    "ProcessExited",
    "enroll_site",
    "init_coordinator",
    "init_site",
    "revoke_site",
    "run_status",
    "site_status",
    "start_coordinator",
    "start_site",
    "stop_process",
    "submit",
]

_log = logging.getLogger(__name__)
_BIN = Path(sys.executable).parent
_CONNECTION = "fedcare"
DEFAULT_PORT = 8000

#: What Flower 1.41's exit codes mean. Flower logs them (``Exit Code: 305``); the process
#: itself exits with status 1. See :class:`ProcessExited`.
EXIT_CODES: dict[int, str] = {
    100: "invalid SuperLink arguments",
    302: "the site's private key could not be read (expects an OpenSSH EC key)",
    303: "the site was started without TLS (--insecure) but with an authentication key: "
         "SuperNode authentication requires TLS",
    305: "the SuperLink refused or could not be reached (e.g. the site's key is not "
         "registered, TLS mismatch, wrong address)",
}

Progress = Callable[[str], None]

#: Consecutive ``flwr ls`` failures after which :func:`submit` reports the coordinator lost.
_UNANSWERED_POLLS = 3


# -- files ---------------------------------------------------------------------------
def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (created so, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run init first)") from None


def _write_toml(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(dict(data)), encoding="utf-8")
    tmp.replace(path)


def _env(home: Path) -> dict[str, str]:
    """Environment of every Flower process: own FLWR_HOME, no telemetry, no installs."""
    home.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, FLWR_HOME=str(home), FLWR_TELEMETRY_ENABLED="0",
                FLWR_DISABLE_UPDATE_CHECK="1", FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
                PYTHONUNBUFFERED="1",
                PATH=f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}")


# -- certificates and keys -----------------------------------------------------------
def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedcare"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_certificates(directory: Path, hosts: Sequence[str], days: int) -> None:
    """A self-signed CA and a server certificate for ``hosts`` signed by it."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = _name("fedcare study CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    _write_private(directory / "ca.key", _pem_key(ca_key))
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "superlink.key", _pem_key(key))
    (directory / "superlink.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def key_fingerprint(public_key: bytes) -> str:
    """``SHA256:...`` fingerprint of an OpenSSH public key (as ``ssh-keygen -l`` prints)."""
    fields = public_key.split()
    if len(fields) < 2:
        raise ConfigError("not an OpenSSH public key (expected 'ecdsa-sha2-nistp384 AAAA...')")
    digest = hashlib.sha256(base64.b64decode(fields[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# -- initialisation ------------------------------------------------------------------
def init_coordinator(
    directory: str | Path, *, hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    port: int = DEFAULT_PORT, bind: str = "127.0.0.1", days: int = 365,
) -> Path:
    """Create a coordinator directory: a CA, the SuperLink's TLS identity, its settings.

    Parameters
    ----------
    directory : str or Path
        Created if missing; an existing ``coordinator.toml`` there is refused.
    hosts : sequence of str
        Names and IP addresses sites will use to reach the SuperLink (the certificate's
        subject alternative names). The first is also the address in ``coordinator.toml``.
    port : int
        The SuperLink's HTTPS port (Fleet, Control and ServerAppIo APIs share it).
    bind : str
        Interface the SuperLink listens on (``0.0.0.0`` for every interface).
    days : int
        Validity of the certificates.

    Returns
    -------
    Path
        The ``coordinator.toml`` written.
    """
    if not hosts:
        raise ConfigError("init_coordinator needs at least one host name for the certificate")
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    toml_path = root / "coordinator.toml"
    if toml_path.exists():
        raise ConfigError(f"{toml_path} exists: this directory already holds a coordinator")
    _make_certificates(root, list(hosts), days)
    host = hosts[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _write_toml(toml_path, {
        "coordinator": {
            "address": address, "bind": bind, "port": port, "hosts": list(hosts),
            "ca_cert": str(root / "ca.pem"), "ca_key": str(root / "ca.key"),
            "cert": str(root / "superlink.pem"), "key": str(root / "superlink.key"),
            "database": str(root / "state.db"), "log": str(root / "superlink.log"),
            "flwr_home": str(root / "home"), "cli_home": str(root / "cli"),
        },
        "sites": {},
    })
    return toml_path


def init_site(directory: str | Path, *, name: str) -> Path:
    """Create a site directory: its EC P-384 key pair (OpenSSH format) and ``site.toml``.

    ``node.pub`` is what the coordinator registers (:func:`enroll_site`); ``node.key``
    (mode 0600) never leaves the site. The coordinator's address and CA certificate are
    recorded by :func:`start_site`.

    Returns
    -------
    Path
        The ``site.toml`` written.
    """
    if not name or any(c.isspace() for c in name) or '"' in name:
        raise ConfigError(f"site name must be non-empty, without spaces or quotes: {name!r}")
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    toml_path = root / "site.toml"
    if toml_path.exists():
        raise ConfigError(f"{toml_path} exists: this directory already holds a site")
    key = ec.generate_private_key(ec.SECP384R1())
    _write_private(root / "node.key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    (root / "node.pub").write_bytes(public + f" fedcare-{name}\n".encode())
    _write_toml(toml_path, {"site": {
        "name": name, "private_key": str(root / "node.key"),
        "public_key": str(root / "node.pub"), "fingerprint": key_fingerprint(public),
        "coordinator_address": "", "ca_cert": "", "flwr_home": str(root / "home"),
    }})
    return toml_path


# -- the flwr CLI against the coordinator --------------------------------------------
def _coordinator(directory: str | Path) -> tuple[Path, dict[str, Any]]:
    root = Path(directory).resolve()
    return root, _read_toml(root / "coordinator.toml")


def _write_cli_config(root: Path, settings: dict[str, Any], insecure: bool) -> None:
    """The ``flwr`` CLI's config.toml: one connection, ``fedcare``, to this SuperLink."""
    c = settings["coordinator"]
    connection: dict[str, Any] = {"address": f"127.0.0.1:{c['port']}" if c["bind"] in {
        "0.0.0.0", "::"} else c["address"]}
    if insecure:
        connection["insecure"] = True
    else:
        connection["root-certificates"] = c["ca_cert"]
    home = Path(c["cli_home"])
    home.mkdir(parents=True, exist_ok=True)
    _write_toml(home / "config.toml", {"superlink": {"default": _CONNECTION,
                                                      _CONNECTION: connection}})


def _cli(root: Path, settings: dict[str, Any], args: list[str],
         timeout: float = 120) -> dict[str, Any]:
    """Run ``flwr ARGS --format json`` with the coordinator's CLI home; the parsed JSON."""
    home = Path(settings["coordinator"]["cli_home"])
    if not (home / "config.toml").is_file():
        raise FederationError(f"{root}: the coordinator was never started (no CLI connection)")
    proc = subprocess.run([str(_BIN / "flwr"), *args, "--format", "json"], env=_env(home),
                          capture_output=True, text=True, timeout=timeout, check=False)
    try:
        out = dict(json.loads(proc.stdout))
    except json.JSONDecodeError:
        raise FederationError(f"flwr {' '.join(args[:2])} exited {proc.returncode}: "
                              f"{(proc.stdout + proc.stderr).strip()[-500:]}") from None
    if out.get("success") is False:
        raise FederationError(f"flwr {' '.join(args[:2])} failed: "
                              f"{out.get('error-message', out)}")
    return out


def enroll_site(coordinator_dir: str | Path, public_key_path: str | Path, *,
                name: str) -> int:
    """Register a site's public key with the running SuperLink (``flwr supernode register``).

    Records ``name -> {fingerprint, node_id, public_key}`` in ``coordinator.toml``.

    Returns
    -------
    int
        The node id the SuperLink assigned.

    Raises
    ------
    ConfigError
        ``name`` is already enrolled, or the key file is missing or not an OpenSSH key.
    FederationError
        The SuperLink refused the key (e.g. already registered) or is not running.
    """
    root, settings = _coordinator(coordinator_dir)
    if name in settings.get("sites", {}):
        raise ConfigError(f"site '{name}' is already enrolled; revoke it first")
    path = Path(public_key_path).resolve()
    try:
        public = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such public key file") from None
    fingerprint = key_fingerprint(public)
    out = _cli(root, settings, ["supernode", "register", str(path), _CONNECTION])
    node_id = int(out["node-id"])
    settings = _read_toml(root / "coordinator.toml")  # re-read: keep concurrent enrolments
    settings.setdefault("sites", {})[name] = {
        "fingerprint": fingerprint, "node_id": node_id,
        "public_key": public.split(b" ")[0].decode() + " " + public.split()[1].decode(),
        "enrolled": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    _write_toml(root / "coordinator.toml", settings)
    return node_id


def revoke_site(coordinator_dir: str | Path, *, name: str) -> None:
    """Unregister an enrolled site (``flwr supernode unregister``); its key is refused after.

    Raises
    ------
    ConfigError
        ``name`` is not enrolled.
    FederationError
        The SuperLink refused or is not running.
    """
    root, settings = _coordinator(coordinator_dir)
    sites = settings.get("sites", {})
    if name not in sites:
        raise ConfigError(f"site '{name}' is not enrolled (enrolled: {sorted(sites)})")
    _cli(root, settings, ["supernode", "unregister", str(sites[name]["node_id"]), _CONNECTION])
    settings = _read_toml(root / "coordinator.toml")
    settings["sites"].pop(name, None)
    _write_toml(root / "coordinator.toml", settings)


def enrolled_sites(coordinator_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The sites recorded in ``coordinator.toml``: name -> fingerprint, node id, key."""
    return dict(_coordinator(coordinator_dir)[1].get("sites", {}))


def site_status(coordinator_dir: str | Path) -> dict[str, str]:
    """What the running SuperLink knows of each enrolled site (``flwr supernode list``).

    Returns
    -------
    dict
        Site name -> the SuperLink's status of its node: ``registered`` (never
        connected), ``online``, ``offline``, ``unregistered``, or ``unknown`` when the
        SuperLink has no such node (e.g. its database was lost: enrol the site again).
        A node counts as online until two heartbeat intervals (60 s) pass without one,
        so right after a SuperLink restart a site still shows the status it had.

    Raises
    ------
    FederationError
        The SuperLink is not running.
    """
    root, settings = _coordinator(coordinator_dir)
    nodes = _cli(root, settings, ["supernode", "list", _CONNECTION]).get("nodes", [])
    by_id = {int(n["node-id"]): str(n.get("status", "")) for n in nodes}
    return {name: by_id.get(int(site["node_id"]), "unknown")
            for name, site in settings.get("sites", {}).items()}


def run_status(coordinator_dir: str | Path, run_id: str | int) -> tuple[str, str]:
    """A run's status on the running SuperLink (``flwr ls``): e.g. ``finished:failed`` and
    its details (``No heartbeat received from the task`` for a run whose ServerApp died).

    Raises
    ------
    FederationError
        The SuperLink is not running or does not know the run.
    """
    root, settings = _coordinator(coordinator_dir)
    runs = _cli(root, settings, ["ls", _CONNECTION, "--run-id", str(run_id)])["runs"]
    return str(runs[0]["status"]), str(runs[0].get("status-details", "") or "")


# -- processes -----------------------------------------------------------------------
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
    meaning = EXIT_CODES.get(flower_code)
    return (f"Flower exit code {flower_code}" + (f" ({meaning})" if meaning else "")
            + f", exit status {returncode}")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def _descendants(pid: int) -> list[int]:
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
    below = _descendants(proc.pid)
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
    state in ``state.db``; logs in ``superlink.log``. The process is its own session
    leader: stop it with :func:`stop_process`.

    Raises
    ------
    ProcessExited
        The SuperLink stopped (Flower's exit code and the log tail in the message).
    FederationError
        It did not answer within ``timeout`` seconds.
    """
    import httpx

    root, settings = _coordinator(directory)
    c = settings["coordinator"]
    log_file = Path(c["log"])
    args = [str(_BIN / "flower-superlink"), "--host", c["bind"], "--port", str(c["port"]),
            "--database", c["database"], "--disable-runtime-dependency-installation",
            "--isolation", "subprocess", "--log-file", str(log_file)]
    if insecure:
        _warn_insecure("the coordinator (SuperLink)")
        args.append("--insecure")
    else:
        args += ["--ssl-ca-certfile", c["ca_cert"], "--ssl-certfile", c["cert"],
                 "--ssl-keyfile", c["key"], "--enable-supernode-auth"]
    _write_cli_config(root, settings, insecure)
    out = open(root / "superlink.out", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(args, env=_env(Path(c["flwr_home"])), stdout=out,
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
            if httpx.get(url, timeout=1.0, verify=verify).is_success:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_process(proc)
            raise FederationError(f"the SuperLink did not answer {url} within {timeout:.0f} s; "
                                  f"see {log_file}")
        time.sleep(0.2)


def _node_config_file(path: Path, node_config: Mapping[str, Any]) -> Path:
    """Write the node config as TOML (``--node-config FILE.toml``: no shell quoting)."""
    for key, value in node_config.items():
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(f"node_config['{key}'] must be a str, int, float or bool, "
                              f"got {type(value).__name__}")
    _write_toml(path, dict(node_config))
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
        to ``node_config.toml`` and passed as ``--node-config``.
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
    """
    root = Path(directory).resolve()
    toml_path = root / "site.toml"
    settings = _read_toml(toml_path)
    s = settings["site"]
    if coordinator_address is not None:
        s["coordinator_address"] = coordinator_address
    if ca_cert is not None:
        s["ca_cert"] = str(Path(ca_cert).resolve())
    if not s["coordinator_address"]:
        raise ConfigError(f"{toml_path}: no coordinator address (pass coordinator_address)")
    if not insecure and not s["ca_cert"]:
        raise ConfigError(f"{toml_path}: no CA certificate (pass ca_cert)")
    _write_toml(toml_path, settings)
    node_config = dict(data_node_config) if data_node_config is not None else {"site": s["name"]}
    config_file = _node_config_file(root / "node_config.toml", node_config)
    args = [str(_BIN / "flower-supernode"), "--superlink", s["coordinator_address"],
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
        proc = subprocess.Popen(args, env=_env(Path(s["flwr_home"])), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        out.close()
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


# -- submitting a study ------------------------------------------------------------
def submit(
    config: StudyConfig, coordinator_dir: str | Path, *, n_sites: int,
    timeout: float = 1800, wait_for_sites: float = 120, on_progress: Progress | None = None,
    poll_every: float = 2.0, extra_run_config: Mapping[str, str | int | float | bool] | None = None,
) -> dict[str, Any]:
    """Run a study on the running coordinator's SuperLink and the connected sites.

    Writes the Flower app and the run config under ``runs/<stamp>/`` in the coordinator
    directory, submits with ``flwr run``, polls ``flwr ls`` until the run finishes and
    returns the ServerApp's ``result.json``.

    Parameters
    ----------
    config : StudyConfig
    coordinator_dir : str or Path
    n_sites : int
        Sites the ServerApp waits for (``num-sites``), up to ``wait_for_sites`` seconds.
    timeout : float
        Seconds before the run is stopped (``flwr stop``) and reported as failed.
    on_progress : callable, optional
        Called with one line per poll (status and elapsed seconds) and per stage.
    poll_every : float
        Seconds between ``flwr ls`` polls.
    extra_run_config : mapping, optional
        Further run-config keys the app declares (e.g. ``task`` and
        ``analytics-request`` for :func:`fedcare.federation._analytics.submit_analytics`).

    Raises
    ------
    FederationError
        ``flwr run`` refused, the run ended other than ``finished:completed`` (its
        status details and the last error lines of its log are in the message), or it
        ran past ``timeout``.
    """
    say = on_progress or (lambda _line: None)
    root, settings = _coordinator(coordinator_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    work = root / "runs" / stamp
    app_dir = write_flower_app(work / "app", secure=config.secure_aggregation)
    out_dir = work / "out"
    run_config = {**config.to_run_config(), "num-sites": n_sites, "output-dir": str(out_dir),
                  "wait-for-sites": float(wait_for_sites), **(extra_run_config or {})}
    overrides = work / "run_config.toml"
    _write_toml(overrides, run_config)
    started = time.monotonic()
    submitted = _cli(root, settings, ["run", str(app_dir), _CONNECTION,
                                      "--run-config", str(overrides)], timeout=300)
    run_id = str(submitted["run-id"])
    task = str((extra_run_config or {}).get("task", "study"))
    what = f"{config.label}, {config.rounds} rounds" if task == "study" else f"task {task}"
    say(f"run {run_id} submitted ({what}, {n_sites} sites)")
    (work / "run_id").write_text(run_id)
    status, details, unanswered = "submitted", "", 0
    while True:
        try:
            runs = _cli(root, settings, ["ls", _CONNECTION, "--run-id", run_id])["runs"]
        except (FederationError, subprocess.TimeoutExpired) as exc:
            # The SuperLink stopped answering: it crashed or was stopped. The ServerApp
            # cannot go on without it (and a restarted SuperLink marks the run failed and
            # refuses it), so the run cannot finish: say so rather than wait.
            unanswered += 1
            if unanswered < _UNANSWERED_POLLS:
                say(f"run {run_id}: the coordinator did not answer ({unanswered})")
                time.sleep(poll_every)
                continue
            resume = (f"; once it runs again, resume the study from "
                      f"{Path(config.checkpoint_dir) / 'checkpoint.json'}"
                      if config.checkpoint_dir else "")
            raise FederationError(
                f"run {run_id}: lost the coordinator while the run was '{status}' "
                f"(its SuperLink did not answer {unanswered} polls: "
                f"{str(exc).strip()[-300:]}){resume}") from exc
        unanswered = 0
        status = str(runs[0]["status"])
        details = str(runs[0].get("status-details", "") or "")
        elapsed = time.monotonic() - started
        say(f"run {run_id}: {status} ({elapsed:.0f} s)")
        if status.startswith("finished"):
            break
        if elapsed > timeout:
            with contextlib.suppress(FederationError):
                _cli(root, settings, ["stop", run_id, _CONNECTION])
            raise FederationError(f"run {run_id} still '{status}' after {timeout:.0f} s "
                                  "(stopped)")
        time.sleep(poll_every)
    if status != "finished:completed":
        log = subprocess.run([str(_BIN / "flwr"), "log", run_id, _CONNECTION, "--show"],
                             env=_env(Path(settings["coordinator"]["cli_home"])),
                             capture_output=True, text=True, timeout=60, check=False).stdout
        (work / "run.log").write_text(log)
        errors = [line.strip() for line in log.splitlines()
                  if "Error" in line or "error" in line][-3:]
        raise FederationError(f"run {run_id} ended '{status}': {details} "
                              f"{' | '.join(errors)} (full log: {work / 'run.log'})")
    try:
        result = dict(json.loads((out_dir / "result.json").read_text()))
    except FileNotFoundError:
        raise FederationError(f"run {run_id} completed but wrote no {out_dir / 'result.json'}"
                              ) from None
    say(f"run {run_id}: finished:completed in {time.monotonic() - started:.1f} s")
    return result
