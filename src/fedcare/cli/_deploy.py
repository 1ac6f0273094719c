"""``fedcare coordinator ...``, ``fedcare site ...``: a real federation over the network.

Wraps Flower's own SuperLink and SuperNode (TLS and node authentication on by default);
fedcare adds certificates, enrolment, site data and policy, and a study runner that
checks the run's final status.
"""

from __future__ import annotations

import contextlib
import signal
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare.cli._common import EXIT_CODES, console, dim, handle_errors, styled
from fedcare.exceptions import ConfigError, DataNotFoundError

coordinator_app = typer.Typer(
    help="Run the coordinator (Flower SuperLink) of a federation.\n\nExample: fedcare "
         "coordinator init coord/ --host coord.hospital.org && fedcare coordinator start coord/",
    no_args_is_help=True)
site_app = typer.Typer(
    help="Run a hospital site (Flower SuperNode): its key, data, policy.\n\nExample: fedcare "
         "site init va/ --name va --data va.csv && fedcare site start va/ --coordinator "
         "coord.hospital.org:8000 --ca-cert ca.pem\n\nExample: fedcare site policy va/ "
         "--set max_epsilon=none",
    no_args_is_help=True)

Dir = Annotated[Path, typer.Argument(help="The coordinator's or site's folder.")]


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (systemd, supervisord, a closed terminal) act as Ctrl-C while a
    Flower process started here runs, so that it is stopped with everything it started
    (it runs in its own session and would otherwise outlive this command)."""
    previous = {sig: signal.signal(sig, signal.default_int_handler)
                for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_forever(proc: object, what: str) -> None:
    """Keep a started process in the foreground until it ends, Ctrl-C, SIGTERM or SIGHUP."""
    from fedcare.federation.engines.deploy import stop_process

    console.print(f"{what} running (pid {proc.pid}); Ctrl-C or SIGTERM stops it")  # type: ignore[attr-defined]
    try:
        code = proc.wait()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        code = stop_process(proc)  # type: ignore[arg-type]
        console.print(f"{what} stopped")
        return
    raise typer.Exit(0 if code in (0, -signal.SIGTERM) else 6)


class SuperLinkState(StrEnum):
    """Where the SuperLink keeps its state (``coordinator init --state``)."""

    file = "file"
    memory = "memory"


@coordinator_app.command("init", epilog=EXIT_CODES)
def coordinator_init(
    directory: Dir,
    host: Annotated[list[str], typer.Option(
        help="Name or IP the sites use to reach the coordinator (repeat; goes into the TLS "
             "certificate). 127.0.0.1 is always added.")] = ["localhost"],  # noqa: B006
    port: Annotated[int, typer.Option(help="The SuperLink's HTTPS port.")] = 8000,
    bind: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 = all).")] = (
        "127.0.0.1"),
    state: Annotated[SuperLinkState, typer.Option(
        help="Where the SuperLink keeps its state. file: state.db (SQLite), runs and "
             "enrolments survive a restart. memory: Flower's in-memory store, no SQLite "
             "write contention with many sites (more than about 10 on 2 cores); a restart "
             "loses running studies (resume them from their checkpoint) and 'coordinator "
             "start' registers the enrolled sites' keys again.")] = SuperLinkState.file,
) -> None:
    """Create the coordinator: a CA, the SuperLink's TLS certificate, coordinator.toml.

    Give sites ca.pem (public). The CA key stays here.

    Example: fedcare coordinator init coord/ --host coord.hospital.org --bind 0.0.0.0
    """
    from fedcare.federation.engines.deploy import init_coordinator

    with handle_errors():
        hosts = list(dict.fromkeys([*host, "127.0.0.1"]))
        path = init_coordinator(directory, hosts=hosts, port=port, bind=bind,
                                state=state.value)
        console.print(f"coordinator ready: {path}\nsend sites: {directory / 'ca.pem'}")


@coordinator_app.command("enroll", epilog=EXIT_CODES)
def coordinator_enroll(
    directory: Dir,
    public_key: Annotated[Path, typer.Argument(help="The site's node.pub.")],
    name: Annotated[str, typer.Option(help="The site's name.")],
) -> None:
    """Register a site's public key with the RUNNING coordinator (node authentication).

    Example: fedcare coordinator enroll coord/ va/node.pub --name va
    """
    from fedcare.federation.engines.deploy import enroll_site

    with handle_errors():
        node_id = enroll_site(directory, public_key, name=name)
        console.print(f"enrolled site {name} (node {node_id})")


@coordinator_app.command("revoke", epilog=EXIT_CODES)
def coordinator_revoke(
    directory: Dir, name: Annotated[str, typer.Option(help="The site to remove.")],
) -> None:
    """Unregister a site's key: it can no longer connect.

    Example: fedcare coordinator revoke coord/ --name va
    """
    from fedcare.federation.engines.deploy import revoke_site

    with handle_errors():
        revoke_site(directory, name=name)
        console.print(f"revoked site {name}")


@coordinator_app.command("sites", epilog=EXIT_CODES)
def coordinator_sites(directory: Dir) -> None:
    """List enrolled sites (and revoked ones), with the SuperLink's status of each.

    Status and last-seen times come from the running SuperLink (``flwr supernode list``);
    while it is not running they show as "coordinator not running".

    Example: fedcare coordinator sites coord/
    """
    from fedcare.exceptions import FederationError
    from fedcare.federation.engines.deploy import enrolled_sites, node_status, revoked_sites

    with handle_errors():
        enrolled, revoked = enrolled_sites(directory), revoked_sites(directory)
        try:
            nodes: dict[int, dict[str, object]] | None = node_status(directory)
        except FederationError:
            nodes = None
        table = Table("site", "node id", "key fingerprint", "enrolled", "status",
                      "last seen")
        for site, info in enrolled.items():
            node = (nodes or {}).get(int(info.get("node_id", 0)), {})
            status = ("coordinator not running" if nodes is None
                      else str(node.get("status") or "unknown"))
            seen = ("now" if node.get("status") == "online"
                    else str(node.get("offline-at") or ""))
            table.add_row(site, str(info.get("node_id", "")), str(info.get("fingerprint", "")),
                          str(info.get("enrolled", "")), status, seen)
        for site, info in revoked.items():
            if site not in enrolled:
                table.add_row(site, str(info.get("node_id", "")),
                              str(info.get("fingerprint", "")), str(info.get("enrolled", "")),
                              f"revoked {info.get('revoked', '')} by "
                              f"{info.get('revoked_by', '?')}", "")
        console.print(table)


@coordinator_app.command("start", epilog=EXIT_CODES)
def coordinator_start(
    directory: Dir,
    insecure: Annotated[bool, typer.Option(
        help="No TLS and no node authentication: local experiments only.")] = False,
) -> None:
    """Start the SuperLink with TLS and node authentication, in the foreground.

    Example: fedcare coordinator start coord/
    """
    from fedcare.federation.engines.deploy import start_coordinator

    with handle_errors(), _stop_signals():
        try:
            proc = start_coordinator(directory, insecure=insecure)
        except KeyboardInterrupt:
            console.print("coordinator stopped before it served")
            return
        _wait_forever(proc, "coordinator")


def _missing(specs: list[str] | None) -> dict[str, list[float]]:
    """``--missing COLUMN=CODE[|CODE...]`` options as ``column -> codes``."""
    from fedcare.config._study import parse_missing_codes

    out: dict[str, list[float]] = {}
    for spec in specs or []:
        try:
            parsed = parse_missing_codes(spec)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not parsed:
            raise ConfigError("--missing expects COLUMN=CODE (e.g. chol=0; several codes: "
                              f"chol=0|999), got '{spec}'")
        for column, codes in parsed.items():
            known = out.setdefault(column, [])
            known.extend(c for c in codes if c not in known)
    return out


@site_app.command("init", epilog=EXIT_CODES)
def site_init(
    directory: Dir,
    name: Annotated[str, typer.Option(help="This site's name (as the study's site column).")],
    data: Annotated[Path, typer.Option(
        help="This site's table (CSV or Parquet); with --images, its labels table (file, "
             "label and site columns).")],
    models: Annotated[str | None, typer.Option(
        help="Models this site trains (default: logistic,mlp; with --images: cnn).")] = None,
    images: Annotated[Path | None, typer.Option(
        help="For image studies: this site's folder of DICOM files (docs/imaging.md); "
             "each file is checked and de-identified before its pixels are read.")] = None,
    max_epsilon: Annotated[float | None, typer.Option(
        help="Only train with record-level DP at epsilon <= this (Newton studies, which "
             "cannot use DP, are then refused).")] = None,
    min_cell: Annotated[int, typer.Option(help="Smallest small-cell k accepted.")] = 5,
    min_cohort: Annotated[int, typer.Option(
        help="Take part only with at least this many usable patients.")] = 1,
    require_secure_aggregation: Annotated[bool, typer.Option(
        help="Only train when updates are summed with SecAgg+.")] = False,
    unit: Annotated[list[str] | None, typer.Option(
        "--unit", help="FEATURE=UNIT (UCUM, e.g. chol=mmol/L): this site records the "
                       "feature in this unit; its values are converted to the study's "
                       "unit before the quality check and training; repeatable.")] = None,
    missing: Annotated[list[str] | None, typer.Option(
        "--missing", help="COLUMN=CODE (e.g. chol=0; several codes chol=0|999): values "
                          "that mean 'not recorded' at this site; recoded to missing "
                          "before the quality check and training; repeatable.")] = None,
) -> None:
    """Create a site: its key pair, its data path, its units and the policy it insists on.

    Send node.pub to the coordinator (never node.key). The policy is checked against
    every study before the site touches its data; a refusal names the site, the rule
    and the fix. Change it later with `fedcare site policy`.

    Example: fedcare site init va/ --name va --data /data/va.csv --max-epsilon 3
    --unit chol=mmol/L --missing chol=0
    """
    from fedcare.cli._quality import _units
    from fedcare.config import SitePolicy
    from fedcare.federation.engines.deploy import init_site
    from fedcare.federation.engines.deploy.layout import log_site_change, write_toml

    with handle_errors():
        if not data.is_file():
            raise DataNotFoundError(f"--data {data}: no such file")
        if images is not None and not images.is_dir():
            raise DataNotFoundError(f"--images {images}: no such folder")
        if models is None:
            models = "cnn" if images is not None else "logistic,mlp"
        units = _units(unit)  # checked before anything is written
        codes = _missing(missing)
        policy: dict[str, object] = {
            "models": [m.strip() for m in models.split(",") if m.strip()],
            "min_cell": min_cell, "min_cohort": min_cohort,
            "require_secure_aggregation": require_secure_aggregation}
        if max_epsilon is not None:
            policy["max_epsilon"] = max_epsilon
        SitePolicy.from_table(policy, source="site init")
        path = init_site(directory, name=name)
        settings = tomllib.loads(path.read_text())
        settings["site"]["data"] = str(data.resolve())
        if images is not None:
            settings["site"]["images"] = str(images.resolve())
        settings["policy"] = policy
        if units:
            settings["units"] = units
        if codes:
            settings["missing"] = codes
        write_toml(path, settings)
        log_site_change(directory, {"site": name, "type": "site.init", "file": path.name,
                                    "policy": policy, "units": units, "missing": codes})
        console.print(f"site {name} ready: {path}\nsend the coordinator: "
                      f"{Path(directory) / 'node.pub'}")


_MEANING = {
    "models": "models the site trains",
    "strategies": "training strategies it takes part in",
    "max_epsilon": "trains only with record-level DP at epsilon <= this (none: no DP "
                   "required)",
    "min_cell": "smallest small-cell k it accepts",
    "min_cohort": "takes part only with at least this many usable patients",
    "require_secure_aggregation": "trains only when updates are summed with SecAgg+",
    "approval": "auto: a study that meets the policy is approved by it; manual: each "
                "study waits for the steward (fedcare site approvals / approve / refuse)",
}


def _shown(key: str, value: object, is_set: bool) -> str:
    """A policy value as shown; ``is_set`` false: the default applies (None: look it up)."""
    from fedcare.config import SitePolicy

    if value is None and key != "max_epsilon":
        value = SitePolicy.model_fields[key].get_default(call_default_factory=True)
    if key == "max_epsilon" and value is None:
        return "none (no limit)"
    text = ", ".join(map(str, value)) if isinstance(value, list) else (
        str(value).lower() if isinstance(value, bool) else f"{value:g}"
        if isinstance(value, float) else str(value))
    return text if is_set else f"{text} (default)"


def _policy_tables(path: Path, settings: dict[str, object]) -> list[Table]:
    """The site's [policy] (every setting, defaults marked), [units] and [missing]."""
    from fedcare.config import SitePolicy, read_site_missing, read_site_units

    policy = SitePolicy.from_toml(path)
    table = settings.get("policy", {})
    site = settings.get("site", {})
    name = site.get("name", path.parent.name) if isinstance(site, dict) else path.parent.name
    out = Table("setting", "value", "meaning", title=f"Policy of site {name} ({path})")
    for key, meaning in _MEANING.items():
        out.add_row(key, _shown(key, getattr(policy, key),
                                isinstance(table, dict) and key in table), meaning)
    tables = [out]
    units = read_site_units(path)
    if units:
        extra = Table("feature", "unit at this site", title="Units ([units])")
        for feature, unit in units.items():
            extra.add_row(str(feature), str(unit))
        tables.append(extra)
    codes = read_site_missing(path)
    if codes:
        extra = Table("column", "codes meaning 'not recorded'",
                      title="Missing-value codes ([missing])")
        for column, values in codes.items():
            extra.add_row(str(column), ", ".join(f"{v:g}" for v in values))
        tables.append(extra)
    return tables


@site_app.command("policy", epilog=EXIT_CODES)
def site_policy(
    directory: Dir,
    assignments: Annotated[list[str] | None, typer.Option(
        "--set", help="KEY=VALUE: change one policy setting (repeatable): models, "
                      "strategies (comma-separated, or all), max_epsilon (a number, or none: "
                      "no DP required), min_cell, min_cohort (integers), "
                      "require_secure_aggregation (true/false), approval (auto, or manual: "
                      "every study waits for fedcare site approve). KEY=none restores the "
                      "default.")] = None,
) -> None:
    """Show the site's policy, units and missing-value codes (site.toml); change the policy.

    With --set the new values are checked as a whole first: a bad value changes nothing
    (exit 5, naming the key and what was expected). Otherwise site.toml is replaced
    atomically and each change (who, when, key, old -> new) is appended to the site's
    hash-chained audit log, DIR/audit.jsonl (`fedcare audit verify`). A running site
    applies the new policy to the next study it is sent.

    Example: fedcare site policy va/

    Example: fedcare site policy va/ --set max_epsilon=none --set min_cell=10
    """
    from fedcare.federation.engines.deploy.layout import (
        SITE_AUDIT_LOG,
        set_site_policy,
        site_settings,
    )

    with handle_errors():
        path, settings = site_settings(directory)
        if assignments:
            changes = set_site_policy(directory, assignments)
            path, settings = site_settings(directory)
            for key, old, new in changes:
                console.print(f"{key}: {_shown(key, old, old is not None)} -> "
                              f"{_shown(key, new, new is not None)}", highlight=False)
            if changes:
                console.print(f"logged to {path.parent / SITE_AUDIT_LOG}", highlight=False)
            else:
                console.print("no change", highlight=False)
        for table in _policy_tables(path, settings):
            console.print(table)


@site_app.command("approvals", epilog=EXIT_CODES)
def site_approvals(
    directory: Dir,
    all_: Annotated[bool, typer.Option("--all", help="Also the studies already decided.")]
    = False,
) -> None:
    """The studies waiting for this site's approval, each with its manifest: what would
    leave the site (message types and what each sends), rounds, DP epsilon, small-cell k,
    secure aggregation. The site answers nothing until you approve or refuse.

    Example: fedcare site approvals cleveland/
    """
    from fedcare.federation.site.approval import ApprovalBook

    with handle_errors():
        entries = ApprovalBook(directory).entries()
        shown = [e for e in entries.values() if all_ or e["state"] == "pending"]
        if not shown:
            console.print("no study is waiting for approval" if not all_ else
                          "no approval request yet", highlight=False)
        for e in sorted(shown, key=lambda e: e["requested_at"]):
            m = e["manifest"]
            console.print(styled(f"run {e['run']}", "bold", f"  {e['state']}"
                                 + (f" by {e.get('decided_by')}" if e.get("decided_by")
                                    else "") + f"  (asked {e['requested_at'][:19]})"),
                          highlight=False)
            what = m.get("summary") or (f"{m['task']}: strategy {m['strategy']}, model "
                                        f"{m['model']}, {m['rounds']} rounds, target "
                                        f"{m['target']}")
            console.print(f"  {what}; DP epsilon "
                          f"{m['dp_epsilon'] or 'none'}; secure aggregation "
                          f"{'on' if m['secure_aggregation'] else 'off'}; small-cell k "
                          f"{m['min_cell'] or '-'}", highlight=False, markup=False)
            for msg in m["messages"]:
                console.print(f"    {msg['type']}: {msg['sends']}", highlight=False,
                              markup=False)
            console.print(f"    patient rows: {m['rows']}", highlight=False, markup=False)


@site_app.command("approve", epilog=EXIT_CODES)
def site_approve(
    directory: Dir,
    run: Annotated[str, typer.Argument(help="The run id shown by fedcare site approvals.")],
    by: Annotated[str, typer.Option("--by", help="Who decides (logged).")] = "steward",
) -> None:
    """Approve a waiting study: the site starts answering it. Logged in DIR/audit.jsonl.

    Example: fedcare site approve cleveland/ 1234567890 --by dr-li
    """
    from fedcare.federation.site.approval import ApprovalBook

    with handle_errors():
        entry = ApprovalBook(directory).decide(run, True, by=by)
        console.print(f"run {run}: approved by {entry['decided_by']}", highlight=False)


@site_app.command("refuse", epilog=EXIT_CODES)
def site_refuse(
    directory: Dir,
    run: Annotated[str, typer.Argument(help="The run id shown by fedcare site approvals.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (the study lead sees it).",
                                        show_default=False)],
    by: Annotated[str, typer.Option("--by", help="Who decides (logged).")] = "steward",
) -> None:
    """Refuse a waiting study with a reason: the site answers it with a refusal, which
    the coordinator reports. Logged in DIR/audit.jsonl.

    Example: fedcare site refuse cleveland/ 1234567890 --reason "no ethics approval yet"
    """
    from fedcare.federation.site.approval import ApprovalBook

    with handle_errors():
        entry = ApprovalBook(directory).decide(run, False, by=by, reason=reason)
        console.print(f"run {run}: refused by {entry['decided_by']}: {entry['reason']}",
                      highlight=False, markup=False)


@site_app.command("start", epilog=EXIT_CODES)
def site_start(
    directory: Dir,
    coordinator: Annotated[str | None, typer.Option(
        help="host:port of the coordinator (remembered after the first start).")] = None,
    ca_cert: Annotated[Path | None, typer.Option(
        help="The coordinator's ca.pem (remembered after the first start).")] = None,
    port: Annotated[int, typer.Option(
        help="Local port of this SuperNode's ClientApp runtime (one per site on a host).")
                    ] = 9094,
    insecure: Annotated[bool, typer.Option(
        help="No TLS, no key: local experiments only.")] = False,
) -> None:
    """Connect this site to the coordinator (TLS + its key) and serve studies.

    Example: fedcare site start va/ --coordinator coord.hospital.org:8000 --ca-cert ca.pem
    """
    from fedcare.federation.engines.deploy import start_site

    with handle_errors(), _stop_signals():
        if ca_cert is not None and not ca_cert.is_file():
            raise ConfigError(f"--ca-cert {ca_cert}: no such file (the coordinator's ca.pem)")
        from fedcare.federation.engines.deploy.layout import site_settings

        toml_path, settings = site_settings(directory)
        site = settings["site"]
        node_config = {"site": site["name"], "data": site.get("data", ""),
                       "site-config": str(toml_path)}
        if site.get("images"):  # an image site (docs/imaging.md)
            node_config["images"] = str(site["images"])
        # a site set up for vertical studies names its identifier column (and label)
        # in site.toml's [site.vertical] (docs/vertical.md)
        for key, value in dict(site.get("vertical", {})).items():
            node_config[str(key)] = str(value)
        if site.get("vertical"):  # its part of each vertical model it trains stays here,
            # and (the label party) the probabilities it predicts for new people
            node_config.setdefault("model-dir", str(directory.resolve() / "vertical-models"))
            node_config.setdefault("predictions",
                                   str(directory.resolve() / "vertical-predictions") + "/")
            # an overlap-only PSI's blinded points, while it runs (fedcare.vertical.spool)
            node_config.setdefault("spool", str(directory.resolve() / "vertical-spool"))
            # a revealed PSI: the comparing site's shared people, a new file each run
            node_config.setdefault("shared", str(directory.resolve() / "vertical-psi") + "/")
        try:
            proc = start_site(directory, coordinator_address=coordinator,
                              ca_cert=ca_cert.resolve() if ca_cert else None,
                              data_node_config=node_config, clientappio_port=port,
                              insecure=insecure, authenticate=not insecure, max_retries=None)
        except KeyboardInterrupt:
            console.print(f"site {site['name']} stopped before the coordinator accepted it")
            return
        _wait_forever(proc, f"site {site['name']}")


def study_submit(
    study_file: Annotated[Path, typer.Argument(help="The study TOML (StudyConfig settings).")],
    coordinator: Annotated[Path, typer.Option(help="The coordinator's folder.")],
    sites: Annotated[int, typer.Option(min=2, help="Sites to wait for.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for runs/<id>/.")] = Path("runs"),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write metrics here.")
                        ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before the run is stopped.")] = 3600,
    resume_from: Annotated[Path | None, typer.Option(
        help="Continue from this checkpoint.json (after a coordinator crash): the rounds "
             "done are kept, the rest are run.")] = None,
) -> None:
    """Run a study on the live federation; exit non-zero if the run fails.

    Progress is streamed; metrics.json and report.html are written as for an embedded
    study, but only from what the sites sent (no pooled model: the rows stay at the sites).
    The coordinator checkpoints the model after every round (coordinator folder,
    checkpoints/<study>/checkpoint.json); --resume-from continues from one.

    Example: fedcare study submit heart.toml --coordinator coord/ --sites 4
    Example: fedcare study submit heart.toml --coordinator coord/ --sites 4
    --resume-from coord/checkpoints/heart/checkpoint.json
    """
    from fedcare.cli._common import comparison_table, write_json, write_outputs
    from fedcare.cli._study import _check_outputs
    from fedcare.study import StudyConfig, submit_study

    with handle_errors():
        config = StudyConfig.from_toml(study_file)
        if not config.checkpoint_dir:
            config = config.replace(checkpoint_dir=str(
                (coordinator / "checkpoints" / study_file.stem).resolve()))
        if resume_from is not None:
            if not resume_from.is_file():
                raise ConfigError(f"--resume-from {resume_from}: no such checkpoint")
            config = config.replace(resume_from=str(resume_from.resolve()))
        _check_outputs(out, json_out)
        dim(f"checkpoints: {config.checkpoint_dir}/checkpoint.json")
        metrics = submit_study(config, coordinator, n_sites=sites, timeout=timeout,
                               on_progress=dim).to_dict()
        run_dir = write_outputs(metrics, out, f"{study_file.stem}-{config.label}")
        if json_out is not None:
            write_json(metrics, json_out)
        console.print(comparison_table(metrics, f"{study_file.stem} on the live federation"))
        console.print(f"report: {run_dir / 'report.html'}")


def study_resume(
    study_file: Annotated[Path, typer.Argument(help="The study TOML submitted before.")],
    coordinator: Annotated[Path, typer.Option(help="The coordinator's folder.")],
    sites: Annotated[int, typer.Option(min=2, help="Sites to wait for.")],
    checkpoint: Annotated[Path | None, typer.Option(
        help="checkpoint.json to continue from (default: the coordinator's "
             "checkpoints/<study>/checkpoint.json).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for runs/<id>/.")] = Path("runs"),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write metrics here.")
                        ] = None,
) -> None:
    """Continue a study after a coordinator crash from its last checkpoint.

    The rounds already done are kept (none repeated); the remaining ones run on the live
    federation. Works for newton, fedavg and fedprox without DP.

    Example: fedcare study resume heart.toml --coordinator coord/ --sites 4
    """
    path = checkpoint or coordinator / "checkpoints" / study_file.stem / "checkpoint.json"
    study_submit(study_file, coordinator, sites, out, json_out, 3600, path)
