"""The site's Flower apps, both built from one handler table.

``client_app`` answers every message type in the clear (its replies pass the
small-cell mod). ``secagg_client_app`` is the same app for secure studies: its
``train`` messages go through Flower's ``secaggplus_mod`` to the SecAgg+ adapter, which
runs the same task as the plain handler (Newton sums, local training, standardisation
sums, Cox sums); every other message type is handled as in ``client_app``.
"""

from __future__ import annotations

from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import Mod

from ..protocol import MessageType
from .handlers import handler
from .mods import make_audit_mod, make_policy_mod, make_small_cell_mod
from .secure import secure_train
from .tasks import TASKS

__all__ = ["client_app", "register", "secagg_client_app"]


def register(app: ClientApp, *, skip: tuple[str, ...] = (),
             mods: list[Mod] | None = None) -> ClientApp:
    """Register a handler for every site task on ``app`` (except ``skip``), each wrapped
    in ``mods`` (inside the app's own mods)."""
    for message_type, task in TASKS.items():
        if message_type in skip:
            continue
        kind, _, name = message_type.partition(".")
        decorator = {"query": app.query, "train": app.train, "evaluate": app.evaluate}[kind]
        if name:
            decorator(name, mods=mods)(handler(task))
        else:
            decorator(mods=mods)(handler(task))
    return app


client_app = register(ClientApp(mods=[make_audit_mod(), make_policy_mod(),
                                      make_small_cell_mod()]))
"""A site's app for every study, analytics run and quality check."""

secagg_client_app = register(ClientApp(mods=[make_audit_mod(), make_policy_mod()]),
                             skip=(MessageType.TRAIN,), mods=[make_small_cell_mod()])
"""A site's app for secure studies: plain handlers for every message type but ``train``,
which only runs the SecAgg+ protocol (a plain ``train`` request fails at the mod)."""
secagg_client_app.train(mods=[secaggplus_mod])(secure_train)
