"""A site's Flower mods: the audit log, its policy and small-cell protection.

Mods run outermost first: the audit log records the reply after suppression, and the
site's policy is checked before anything touches its data.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from flwr.app import Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedcare.config import SitePolicy
from fedcare.exceptions import PolicyRefusal
from fedcare.privacy import suppress_small_cells

from ..audit import AUDIT_DIR_KEY, audit_log, describe, site_log_path, site_name
from ..protocol import MessageType, RunKey
from .approval import ApprovalBook, manifest, wait_for_approval
from .context import SITE_CONFIG_KEY, settings
from .data import file_stamp

__all__ = ["make_audit_mod", "make_policy_mod", "make_small_cell_mod", "make_vertical_policy_mod",
           "vertical_manifest"]


def make_audit_mod() -> Mod:
    """A Flower client mod that logs every message a site receives and sends.

    Active when ``context.run_config['audit-dir']`` is a non-empty folder path; the
    log is ``<audit-dir>/site-<name>.jsonl``.  The incoming message is logged before
    the app handles it, the reply after; if the app raises, a ``sent`` record with
    the exception's type name (never its message) is logged and the exception
    propagates.

    Returns
    -------
    Mod
        ``(message, context, call_next) -> Message``; use as ``ClientApp(mods=[...])``.
    """

    def audit_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        audit_dir = str(context.run_config.get(AUDIT_DIR_KEY, "") or "")
        if not audit_dir:
            return call_next(message, context)
        log = audit_log(site_log_path(audit_dir, context))
        site = site_name(context)
        received = describe(message, "received")
        log.append({"site": site, "peer": "coordinator", **received})
        try:
            reply = call_next(message, context)
        except Exception as exc:
            log.append({"site": site, "peer": "coordinator", "direction": "sent",
                        "message_type": message.metadata.message_type,
                        "group_id": message.metadata.group_id,
                        "reply_to": message.metadata.message_id, "bytes": 0,
                        "round": received["round"],
                        "error": {"exception": type(exc).__name__}})
            raise
        sent = describe(reply, "sent")
        if sent["round"] is None:
            sent["round"] = received["round"]
        log.append({"site": site, "peer": "coordinator", **sent})
        return reply

    return audit_mod


@lru_cache(maxsize=16)
def _policy_at(path: str, stamp: tuple[int, int]) -> SitePolicy:
    return SitePolicy.from_toml(path)


def _policy(path: str) -> SitePolicy:
    """The site's policy, re-read when its file changes (``fedcare site policy --set``)."""
    return _policy_at(path, file_stamp(path))


def make_policy_mod() -> Mod:
    """A mod checking each message's study against the site's ``[policy]``.

    The policy file is named by ``node_config["site-config"]``; without one, the site
    accepts every study. A refusal becomes the site's error reply, which the coordinator
    reports with the site's name and every reason. A study that meets the policy is then
    approved by it (``approval = "auto"``) or waits for the steward's decision
    (``approval = "manual"``), see :mod:`fedcare.federation.site.approval`.
    """

    def policy_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        path = context.node_config.get(SITE_CONFIG_KEY)
        if not path:
            return call_next(message, context)
        policy = _policy(str(path))
        site = context.node_config.get("site", f"node {context.node_id}")
        config = settings(context)[0]
        reasons = policy.violations(config)
        if reasons:
            raise PolicyRefusal(f"site '{site}' refuses this study: " + "; ".join(reasons))
        task = str(context.run_config.get(RunKey.TASK, "study"))
        raw = context.run_config.get(RunKey.ANALYTICS_REQUEST)
        request = json.loads(str(raw)) if task == "analytics" and raw else None
        wait_for_approval(ApprovalBook(Path(str(path)).parent), str(context.run_id),
                          str(site), manifest(config, task, request),
                          auto=policy.approval == "auto", timeout=config.round_timeout)
        reply = call_next(message, context)
        if (message.metadata.message_type == MessageType.SCHEMA and policy.min_cohort > 1
                and not reply.has_error()):
            rows = float(cast(float, reply.content.metric_records["metrics"]["n-rows"]))
            if math.isnan(rows) or rows < policy.min_cohort:
                raise PolicyRefusal(f"site '{site}' refuses this study: fewer usable "
                                    f"patients than its minimum cohort {policy.min_cohort}")
        return reply

    return policy_mod


def make_small_cell_mod() -> Mod:
    """A mod suppressing every figure that would describe fewer than ``min-cell`` patients.

    ``min-cell`` comes from the run config (default 5); see
    :func:`fedcare.privacy.suppress_small_cells` for the rules.
    """

    def small_cell_mod(message: Message, context: Context, call_next: ClientAppCallable
                       ) -> Message:
        reply = call_next(message, context)
        if reply.has_error():
            return reply
        k = int(cast(int, context.run_config.get(RunKey.MIN_CELL, 5)))
        if k <= 1:
            return reply
        records = reply.content.metric_records
        for key in list(records):
            values = {name: float(cast(float, v)) for name, v in records[key].items()}
            kept = suppress_small_cells(values, k)
            changed = {name for name, v in kept.items()
                       if v != values[name] and not (v != v and values[name] != values[name])}
            for name in changed:  # NaN != NaN: only real changes are written
                records[key][name] = kept[name]
        return reply

    return small_cell_mod


def vertical_manifest(context: Context) -> dict[str, Any]:
    """What a vertical study would take from this site, as its steward reads it."""
    cfg, node = context.run_config, context.node_config
    mode = str(cfg.get("vertical-mode", "train"))
    model = str(cfg.get("vertical-model", "logistic"))
    columns = str(node.get("features", "") or "") or "every column but the identifier"
    label = str(node.get("label", "") or "")
    revealed = ("private set intersection only; the comparing party (the label party, "
                "else the first) learns WHICH of its people are shared, so which of them "
                "are also at the other party")
    doing = {"psi": revealed if bool(cfg.get("vertical-reveal", True)) else
             "private set intersection only (how many people are shared)",
             "train": f"PSI, then a vertical {model} model",
             "predict": f"PSI on new people, then predictions of model "
                        f"{cfg.get('vertical-model-id', '')}"}.get(mode, mode)
    return {
        "task": "vertical", "summary": f"vertical study: {doing}; this site's columns: "
                                       f"{columns}" + (f"; its label {label}" if label else ""),
        "mode": mode, "model": model, "label": label or None, "features": columns,
        "messages": [{"type": "query.vsetup / query.vpsi / query.vspool",
                      "sends": "row and normalisation counts, feature names, identifiers "
                               "hashed and blinded (sealed for the other party)"},
                     {"type": "train.* / evaluate.*",
                      "sends": "encrypted or masked values, sealed for the other party or "
                               "the coordinator; counts, test metrics and weights or split "
                               "counts per feature at the end"}],
        "rows": "never: no identifier, value or label leaves in the clear",
        # the keys of a horizontal study's manifest, as they read for a vertical one
        "strategy": None, "rounds": None, "target": label or None,
        "dp_epsilon": None, "dp_level": None, "secure_aggregation": False, "min_cell": None,
    }


def make_vertical_policy_mod() -> Mod:
    """The site's ``[policy]`` applied to vertical studies (docs/vertical.md).

    ``approval = "manual"`` makes each vertical study wait for the steward as horizontal
    ones do; ``min_cohort`` refuses when fewer of its rows have a usable identifier;
    ``max_epsilon`` and ``require_secure_aggregation`` refuse every vertical study (its
    training has no differential privacy and no SecAgg+: it is encrypted instead), with
    the command that changes the policy. ``models``, ``strategies`` and ``min_cell``
    describe horizontal studies only.
    """

    def vertical_policy_mod(message: Message, context: Context,
                            call_next: ClientAppCallable) -> Message:
        path = context.node_config.get(SITE_CONFIG_KEY)
        if not path:
            return call_next(message, context)
        policy = _policy(str(path))
        site = context.node_config.get("site", f"node {context.node_id}")
        reasons = []
        if policy.max_epsilon is not None:
            reasons.append(f"its policy requires record-level DP (max_epsilon = "
                           f"{policy.max_epsilon:g}), which vertical studies do not have; "
                           + policy._change("max_epsilon=none"))
        if policy.require_secure_aggregation:
            reasons.append("its policy requires SecAgg+, which vertical studies do not use "
                           "(their values travel encrypted or masked instead); "
                           + policy._change("require_secure_aggregation=false"))
        if reasons:
            raise PolicyRefusal(f"site '{site}' refuses this study: " + "; ".join(reasons))
        wait_for_approval(ApprovalBook(Path(str(path)).parent), str(context.run_id),
                          str(site), vertical_manifest(context),
                          auto=policy.approval == "auto",
                          timeout=float(cast(float, context.run_config.get("round-timeout",
                                                                           3600.0))))
        reply = call_next(message, context)
        if (message.metadata.message_type == "query.vsetup" and policy.min_cohort > 1
                and not reply.has_error()):
            rows = int(cast(int, reply.content["reply"]["n"]))
            if rows < policy.min_cohort:
                raise PolicyRefusal(f"site '{site}' refuses this study: fewer rows with a "
                                    f"usable identifier than its minimum cohort "
                                    f"{policy.min_cohort}")
        return reply

    return vertical_policy_mod
