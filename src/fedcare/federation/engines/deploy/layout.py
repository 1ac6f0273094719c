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
    half, what the coordinator registers), ``site.toml`` (name, data, ``[policy]``,
    ``[units]``, ``[missing]``), ``audit.jsonl`` (hash-chained log of changes to the
    site's settings: who, when, what), ``node_config.toml``, ``supernode.log`` and
    ``home/``.

Flower 1.41 serves its Fleet, Control and ServerAppIo APIs over one HTTPS port (the
SuperLink's ``--port``, 8000 by default); the older gRPC ports (9091-9093) are no
longer opened. Each SuperNode also opens a local Runtime (ClientAppIo) HTTP port
(``--port``, 9094 by default) that must differ between SuperNodes on one host.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from fedcare._io import write_text_atomic
from fedcare.config import update_policy
from fedcare.exceptions import ConfigError, FederationError
from fedcare.privacy._audit import AuditLog

from ..flwr_cli import flower_env, flwr_json
from .pki import key_fingerprint, make_certificates, make_site_key

__all__ = ["CONNECTION", "DEFAULT_PORT", "SITE_AUDIT_LOG", "coordinator_settings",
           "enroll_site", "enrolled_sites", "flwr_cli", "init_coordinator", "init_site",
           "log_site_change", "node_status", "read_toml", "revoke_site", "revoked_sites",
           "run_status", "set_site_policy",
           "site_settings", "site_status", "write_cli_config", "write_toml"]

CONNECTION = "fedcare"
DEFAULT_PORT = 8000
SITE_AUDIT_LOG = "audit.jsonl"
"""A site folder's hash-chained log of changes to its settings (``fedcare audit verify``)."""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run `fedcare coordinator init` or `fedcare "
                          "site init` first)") from None


def write_toml(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically: a failure leaves the old file, never half a file."""
    write_text_atomic(path, tomli_w.dumps(dict(data)))


IN_MEMORY = ":flwr-in-memory:"
"""The SuperLink's ``--database`` for Flower's in-memory state store."""


def init_coordinator(
    directory: str | Path, *, hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    port: int = DEFAULT_PORT, bind: str = "127.0.0.1", days: int = 365, state: str = "file",
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
    state : {"file", "memory"}
        Where the SuperLink keeps its state: ``file`` (``state.db``, SQLite: runs and
        enrolments survive a restart) or ``memory`` (Flower's in-memory store: no SQLite
        write contention with many SuperNodes; runs are lost on a restart, and
        :func:`~fedcare.federation.engines.deploy.start_coordinator` registers the
        enrolled sites' keys again at every start).

    Returns
    -------
    Path
        The ``coordinator.toml`` written.
    """
    if state not in ("file", "memory"):
        raise ConfigError(f"state must be 'file' or 'memory', got '{state}'")
    if not hosts:
        raise ConfigError("init_coordinator needs at least one host name for the certificate")
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    toml_path = root / "coordinator.toml"
    if toml_path.exists():
        raise ConfigError(f"{toml_path} exists: this directory already holds a coordinator")
    make_certificates(root, list(hosts), days)
    host = hosts[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    write_toml(toml_path, {
        "coordinator": {
            "address": address, "bind": bind, "port": port, "hosts": list(hosts),
            "ca_cert": str(root / "ca.pem"), "ca_key": str(root / "ca.key"),
            "cert": str(root / "superlink.pem"), "key": str(root / "superlink.key"),
            "database": IN_MEMORY if state == "memory" else str(root / "state.db"),
            "log": str(root / "superlink.log"),
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
    _, fingerprint = make_site_key(root, name)
    write_toml(toml_path, {"site": {
        "name": name, "private_key": str(root / "node.key"),
        "public_key": str(root / "node.pub"), "fingerprint": fingerprint,
        "coordinator_address": "", "ca_cert": "", "flwr_home": str(root / "home"),
    }})
    return toml_path


def site_settings(directory: str | Path) -> tuple[Path, dict[str, Any]]:
    """A site folder's ``site.toml`` path and its parsed content.

    Raises
    ------
    ConfigError
        The folder holds no ``site.toml`` (not a site: run ``fedcare site init``).
    """
    path = Path(directory).resolve() / "site.toml"
    if not path.is_file():
        raise ConfigError(f"{path}: not a site folder (run `fedcare site init`)")
    return path, read_toml(path)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (e.g. some containers)
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def log_site_change(directory: str | Path, record: Mapping[str, Any]) -> AuditLog:
    """Append ``record`` (with ``who``: user@host) to the site folder's audit log.

    The log (:data:`SITE_AUDIT_LOG`) is hash-chained; ``time`` is added by it. Records
    describe settings (keys and their values), never patient data.

    Raises
    ------
    AuditError
        The existing log fails verification (nothing is appended).
    """
    log = AuditLog(Path(directory).resolve() / SITE_AUDIT_LOG)
    log.append({"who": _who(), **record})
    return log


def set_site_policy(directory: str | Path, assignments: Sequence[str]
                    ) -> list[tuple[str, Any, Any]]:
    """Change a site's ``[policy]``: validate, write ``site.toml`` atomically, audit-log.

    Parameters
    ----------
    directory : str or Path
        The site's folder.
    assignments : sequence of str
        ``KEY=VALUE`` each, e.g. ``max_epsilon=none`` (remove the limit) or
        ``models=logistic,mlp`` (:func:`fedcare.config.update_policy`).

    Returns
    -------
    list of tuple
        ``(key, old, new)`` per changed setting (None: unset, its default applies);
        each is one record (``type`` ``policy.set``, ``who``, ``key``, ``old``, ``new``)
        in the site's audit log.

    Raises
    ------
    ConfigError
        Not a site folder, or an assignment is malformed or refused by the policy
        model: nothing is written.
    AuditError
        The site's audit log fails verification: nothing is written.
    """
    path, settings = site_settings(directory)
    table = settings.get("policy", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: policy: expected a table of settings ([policy])")
    new, changes = update_policy(table, list(assignments), source=str(path))
    if not changes:
        return []
    log = AuditLog(path.parent / SITE_AUDIT_LOG)  # verified before anything is written
    write_toml(path, {**settings, "policy": new})
    site = str(settings.get("site", {}).get("name", path.parent.name))
    for key, old, value in changes:
        log.append({"site": site, "type": "policy.set", "who": _who(), "file": path.name,
                    "key": key, "old": old, "new": value})
    return changes


# -- the flwr CLI against the coordinator --------------------------------------------
def coordinator_settings(directory: str | Path) -> tuple[Path, dict[str, Any]]:
    root = Path(directory).resolve()
    if not (root / "coordinator.toml").is_file() and (root / "site.toml").is_file():
        raise ConfigError(f"{root} is a site folder (site.toml); give the coordinator's "
                          "folder (the one `fedcare coordinator init` made)")
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder (the coordinator's folder is made by "
                          "`fedcare coordinator init DIR`)")
    return root, read_toml(root / "coordinator.toml")


def write_cli_config(root: Path, settings: dict[str, Any], insecure: bool) -> None:
    """The ``flwr`` CLI's config.toml: one connection, ``fedcare``, to this SuperLink.

    The CLI runs on the coordinator's machine: it connects over loopback when the
    SuperLink listens there (``bind`` a wildcard or loopback address), else to the
    coordinator's address (the first ``--host``, in its certificate).
    """
    c = settings["coordinator"]
    local = c["bind"] in {"0.0.0.0", "::", "127.0.0.1", "localhost"}
    connection: dict[str, Any] = {"address": f"127.0.0.1:{c['port']}" if local
                                  else c["address"]}
    if insecure:
        connection["insecure"] = True
    else:
        connection["root-certificates"] = c["ca_cert"]
    home = Path(c["cli_home"])
    home.mkdir(parents=True, exist_ok=True)
    write_toml(home / "config.toml", {"superlink": {"default": CONNECTION,
                                                      CONNECTION: connection}})


def flwr_cli(root: Path, settings: dict[str, Any], args: list[str],
             timeout: float = 120) -> dict[str, Any]:
    """Run ``flwr ARGS --format json`` with the coordinator's CLI home; the parsed JSON."""
    home = Path(settings["coordinator"]["cli_home"])
    if not (home / "config.toml").is_file():
        raise FederationError(f"{root}: the coordinator was never started (no CLI connection)")
    return flwr_json(args, flower_env(home), timeout=timeout)


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
    root, settings = coordinator_settings(coordinator_dir)
    if name in settings.get("sites", {}):
        raise ConfigError(f"site '{name}' is already enrolled; revoke it first")
    path = Path(public_key_path).resolve()
    try:
        public = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such public key file") from None
    fingerprint = key_fingerprint(public)
    out = flwr_cli(root, settings, ["supernode", "register", str(path), CONNECTION])
    node_id = int(out["node-id"])
    settings = read_toml(root / "coordinator.toml")  # re-read: keep concurrent enrolments
    settings.setdefault("sites", {})[name] = {
        "fingerprint": fingerprint, "node_id": node_id,
        "public_key": public.split(b" ")[0].decode() + " " + public.split()[1].decode(),
        "enrolled": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_toml(root / "coordinator.toml", settings)
    return node_id


def reregister_sites(coordinator_dir: str | Path) -> dict[str, int]:
    """Register every enrolled site's key again with a SuperLink that keeps its state in
    memory (it forgot them when it stopped); record the node ids it assigns now.

    Returns
    -------
    dict
        Site name -> its new node id.

    Raises
    ------
    FederationError
        The SuperLink refused a key or is not running.
    """
    import tempfile

    root, settings = coordinator_settings(coordinator_dir)
    ids: dict[str, int] = {}
    for name, site in sorted(settings.get("sites", {}).items()):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "node.pub"
            path.write_text(str(site["public_key"]) + "\n", encoding="utf-8")
            out = flwr_cli(root, settings, ["supernode", "register", str(path), CONNECTION])
        ids[name] = int(out["node-id"])
    if ids:
        settings = read_toml(root / "coordinator.toml")
        for name, node_id in ids.items():
            if name in settings.get("sites", {}):
                settings["sites"][name]["node_id"] = node_id
        write_toml(root / "coordinator.toml", settings)
    return ids


def revoke_site(coordinator_dir: str | Path, *, name: str) -> None:
    """Unregister an enrolled site (``flwr supernode unregister``); its key is refused after.

    Raises
    ------
    ConfigError
        ``name`` is not enrolled.
    FederationError
        The SuperLink refused or is not running.
    """
    root, settings = coordinator_settings(coordinator_dir)
    sites = settings.get("sites", {})
    if name not in sites:
        raise ConfigError(f"site '{name}' is not enrolled (enrolled: {sorted(sites)})")
    flwr_cli(root, settings, ["supernode", "unregister", str(sites[name]["node_id"]), CONNECTION])
    settings = read_toml(root / "coordinator.toml")
    gone = settings["sites"].pop(name, None) or sites[name]
    # kept for the record (the console's sites page): who was revoked, which key, when
    settings.setdefault("revoked", {})[name] = {
        "fingerprint": gone.get("fingerprint", ""), "node_id": gone.get("node_id", 0),
        "enrolled": gone.get("enrolled", ""), "revoked_by": _who(),
        "revoked": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_toml(root / "coordinator.toml", settings)


def enrolled_sites(coordinator_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The sites recorded in ``coordinator.toml``: name -> fingerprint, node id, key."""
    return dict(coordinator_settings(coordinator_dir)[1].get("sites", {}))


def revoked_sites(coordinator_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Sites revoked from this coordinator: name -> fingerprint, node id, when and by whom
    (the last revocation of each name)."""
    return dict(coordinator_settings(coordinator_dir)[1].get("revoked", {}))


def node_status(coordinator_dir: str | Path) -> dict[int, dict[str, Any]]:
    """The running SuperLink's view of each node (``flwr supernode list``): node id ->
    ``status`` and the times it last came ``online-at`` / went ``offline-at``.

    Raises
    ------
    FederationError
        The SuperLink is not running.
    """
    root, settings = coordinator_settings(coordinator_dir)
    nodes = flwr_cli(root, settings, ["supernode", "list", CONNECTION], timeout=20
                     ).get("nodes", [])
    return {int(n["node-id"]): {k: n.get(k) for k in ("status", "online-at", "offline-at")}
            for n in nodes}


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
    root, settings = coordinator_settings(coordinator_dir)
    nodes = flwr_cli(root, settings, ["supernode", "list", CONNECTION]).get("nodes", [])
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
    root, settings = coordinator_settings(coordinator_dir)
    runs = flwr_cli(root, settings, ["ls", CONNECTION, "--run-id", str(run_id)])["runs"]
    return str(runs[0]["status"]), str(runs[0].get("status-details", "") or "")
