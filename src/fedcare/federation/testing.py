"""Simulated model-poisoning sites, for tests and benchmarks ONLY.

Nothing in a real study uses this module: it exists so that robust aggregation
(:class:`fedcare.federation.strategies.NormBound`, FedMedian, Krum, ...) can be tested
against a site that sends corrupted training updates.  The attack is a Flower client
mod, so the honest ClientApp code is untouched; it reads these run-config keys:

``attack-site``
    The site (``node_config["site"]``, else the name in the reply) that misbehaves.
``attack-kind``
    ``scale``: the update (reply arrays minus the global arrays) is multiplied by
    ``attack-scale`` (default -10: a boosted, sign-flipped update);
    ``random``: the arrays are replaced by Gaussian noise of standard deviation
    ``attack-std`` (default 10), seeded by the run's ``seed``, the round and the node.

Only replies to plain ``train`` messages (the FedAvg family) are corrupted.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MessageType
from flwr.client.mod import make_ffn
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.common.secure_aggregation.secaggplus_constants import (
    RECORD_KEY_CONFIGS,
    Key,
    Stage,
)

__all__ = ["ATTACK_KINDS", "make_attack_mod", "with_mods"]

ATTACK_KINDS = ("scale", "random")


def _site(context: Context, reply: Message) -> str:
    if "site" in context.node_config:
        return str(context.node_config["site"])
    records = reply.content.config_records
    return str(records["site"]["site"]) if "site" in records else ""


def _corrupt(kind: str, local: list[np.ndarray], global_: list[np.ndarray],
             run_config: dict[str, object], seed: tuple[int, ...]) -> list[np.ndarray]:
    if kind == "scale":
        factor = float(cast(float, run_config.get("attack-scale", -10.0)))
        return [g + factor * (a - g) for a, g in zip(local, global_, strict=True)]
    if kind == "random":
        std = float(cast(float, run_config.get("attack-std", 10.0)))
        rng = np.random.default_rng(seed)
        return [rng.normal(0.0, std, size=a.shape).astype(a.dtype) for a in local]
    raise ValueError(f"attack-kind must be one of {list(ATTACK_KINDS)}, got {kind!r}")


def make_attack_mod() -> Mod:
    """A client mod that corrupts one site's training replies (see the module docstring).

    Returns
    -------
    Mod
        ``(message, context, call_next) -> Message``; a no-op unless ``attack-site``
        names this node's site and the message type is ``train``.
    """

    def attack_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        reply = call_next(message, context)
        target = context.run_config.get("attack-site")
        if (target is None or message.metadata.message_type != MessageType.TRAIN
                or reply.has_error() or _site(context, reply) != str(target)
                or "arrays" not in message.content.array_records):
            return reply
        kind = str(context.run_config.get("attack-kind", "scale"))
        global_ = message.content.array_records["arrays"].to_numpy_ndarrays()
        config = message.content.config_records.get("config")
        server_round = int(cast(int, config.get("server-round", 0))) if config else 0
        seed = (int(cast(int, context.run_config.get("seed", 0))), server_round,
                int(context.node_id))
        for key, record in list(reply.content.array_records.items()):
            bad = _corrupt(kind, record.to_numpy_ndarrays(), global_,
                           dict(context.run_config), seed)
            reply.content[key] = ArrayRecord(
                {name: Array(np.asarray(a)) for name, a in zip(record.keys(), bad, strict=True)}
            )
        return reply

    return attack_mod


def make_dropout_mod() -> Mod:
    """A client mod making one site fail chosen training rounds (tests only).

    ``run_config["drop-site"]`` names the site, ``run_config["drop-rounds"]`` lists the
    rounds (comma-separated) in which its ``train`` handler raises, as if its process
    had died mid-round; in other rounds it answers normally (it "rejoins").
    """

    def dropout_mod(message: Message, context: Context, call_next: ClientAppCallable
                    ) -> Message:
        site = context.node_config.get("site")
        rounds = {int(r) for r in str(context.run_config.get("drop-rounds", "")).split(",")
                  if r.strip()}
        config = message.content.config_records.get("config")
        server_round = int(cast(int, config.get("server-round", 0))) if config else 0
        secagg = message.content.config_records.get(RECORD_KEY_CONFIGS)
        if secagg is not None:  # SecAgg+: drop after the key exchange, before the vector
            if secagg.get(Key.STAGE) != Stage.COLLECT_MASKED_VECTORS:
                return call_next(message, context)
            server_round = int(message.metadata.group_id or 0)
        if (site and site == context.run_config.get("drop-site")
                and message.metadata.message_type.startswith("train")
                and server_round in rounds):
            raise ConnectionError(f"site {site} dropped out in round {server_round}")
        return call_next(message, context)

    return dropout_mod


def with_mods(app: ClientApp, mods: list[Mod]) -> ClientApp:
    """A ClientApp running ``app``'s registered handlers wrapped in ``mods``.

    Flower applies mods when a handler is registered, so an existing app cannot take
    mods afterwards; this copies its handlers (``ClientApp._registered_funcs``, a
    private attribute of Flower 1.x) into a new app, each wrapped in ``mods``.

    Parameters
    ----------
    app : ClientApp
        The honest app (e.g. ``fedcare.federation.apps.client_app``); not modified.
    mods : list of Mod
        Outermost first, as in ``ClientApp(mods=...)``.
    """
    out = ClientApp(mods=list(mods))
    out._registered_funcs = {name: make_ffn(fn, list(mods))
                             for name, fn in app._registered_funcs.items()}
    if app._call is not None:
        out._call = make_ffn(app._call, list(mods))
    out._lifespan = app._lifespan
    return out
