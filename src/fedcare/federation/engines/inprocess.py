"""An in-process Flower Grid: hands each Message straight to the site's ClientApp.

This is fedcare's embedded default: the same ServerApp and ClientApp objects that run
on Flower's simulation and deployment engines run here, in one process, with no
network and no Ray (about 0.04 s a round for four small sites).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from itertools import count
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from fedcare._logs import quieted
from fedcare.analytics import check_request
from fedcare.config import StudyConfig

from ..coordinator import run_task
from ..protocol import RunKey
from ..site import client_app, secagg_client_app
from ..vertical import party_app, run_vertical

__all__ = ["InProcessGrid", "quiet_flower", "run_analytics_inprocess", "run_app", "run_inprocess",
           "run_quality_inprocess", "run_vertical_inprocess"]

_ERROR_CLIENT_EXCEPTION = 3


class InProcessGrid(Grid):
    """Grid whose nodes are ClientApps in this process.

    Parameters
    ----------
    client_app : ClientApp
        The app every node runs.
    node_configs : list of dict
        One ``node_config`` per node (e.g. ``{"site": "cleveland"}``).
    run_config : dict
        The run config both apps read.
    run_id : int
    keep_messages : bool
        Keep every message and reply in :attr:`messages_sent` and
        :attr:`replies_received` (for tests that inspect them); off, a study that sends
        many large messages (a spooled PSI of millions of people) holds one round's at a
        time.
    """

    def __init__(self, client_app: ClientApp, node_configs: list[dict[str, str | int | float]],
                 run_config: dict[str, str | int | float | bool], run_id: int = 1,
                 on_send: Callable[[str], None] | None = None,
                 keep_messages: bool = True) -> None:
        self._app = client_app
        self._on_send = on_send
        self._keep = keep_messages
        self._run = Run.create_empty(run_id)
        self._run.override_config = dict(run_config)
        self._contexts = {
            1000 + i: Context(run_id=run_id, node_id=1000 + i, node_config=dict(cfg),
                              state=RecordDict(), run_config=dict(run_config))
            for i, cfg in enumerate(node_configs)
        }
        self._ids = count(1)
        self._replies: dict[str, Message] = {}
        self.messages_sent: list[Message] = []
        self.replies_received: list[Message] = []

    def server_context(self) -> Context:
        """The Context the ServerApp runs with; also sets Flower's task identity."""
        TaskIdentity.task_id = 1
        TaskIdentity.run_id = self._run.run_id
        TaskIdentity.node_id = SUPERLINK_NODE_ID
        return Context(run_id=self._run.run_id, node_id=SUPERLINK_NODE_ID, node_config={},
                       state=RecordDict(), run_config=dict(self._run.override_config))

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message_id = f"m{next(self._ids)}"
            message.metadata.__dict__["_message_id"] = message_id
            # Over a network every node deserialises its own copy; strategies send one
            # content object to all nodes, and some mods (SecAgg+) change what they get.
            message.__dict__["_content"] = copy.deepcopy(message.__dict__["_content"])
            node_id = message.metadata.dst_node_id
            context = self._contexts[node_id]
            if self._keep:
                self.messages_sent.append(message)
            TaskIdentity.node_id = node_id
            try:
                reply = self._app(message, context)
            except Exception as exc:  # a site's failure becomes an error reply, as in Flower
                reply = Message(Error(code=_ERROR_CLIENT_EXCEPTION,
                                      reason=f"{type(exc).__name__}: {exc}"), reply_to=message)
            finally:
                TaskIdentity.node_id = SUPERLINK_NODE_ID
            reply.metadata.__dict__["_message_id"] = f"r{message_id}"
            if self._keep:
                self.replies_received.append(reply)
            self._replies[message_id] = reply
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        replies = list(self.pull_messages(self.push_messages(messages)))
        if self._on_send is not None and messages:
            self._on_send(messages[0].metadata.message_type)
        return replies


def quiet_flower() -> AbstractContextManager[None]:
    """Flower's per-round INFO logging silenced (warnings still shown)."""
    return quieted("flwr", logging.WARNING)


def run_app(app: ClientApp, runner: Callable[[Grid, Context], dict[str, Any]],
            run_config: dict[str, Any], sites: Sequence[str], *, keep_messages: bool = False,
            on_send: Callable[[str], None] | None = None) -> tuple[dict[str, Any], InProcessGrid]:
    """Run ``runner`` (a ServerApp's body) against one in-process ``app`` per site.

    Each node gets ``node_config = {"site": name, "partition-id": i, "num-partitions":
    n}``; Flower's INFO logging is silenced for the run. Returns the result and the grid
    (its messages only with ``keep_messages``).
    """
    node_configs: list[dict[str, str | int | float]] = [
        {"site": name, "partition-id": i, "num-partitions": len(sites)}
        for i, name in enumerate(sites)
    ]
    grid = InProcessGrid(app, node_configs, run_config, on_send=on_send)
    with quiet_flower():
        result = runner(grid, grid.server_context())
    if not keep_messages:
        grid.messages_sent.clear()
        grid.replies_received.clear()
    return result, grid


def run_inprocess(run_config: dict[str, Any] | StudyConfig, sites: Sequence[str], *,
                  keep_messages: bool = False, on_send: Callable[[str], None] | None = None,
                  app: ClientApp | None = None) -> tuple[dict[str, Any], InProcessGrid]:
    """The ServerApp's task (``run_config['task']``: study, analytics or quality) with
    one in-process ClientApp per site: the embedded engine.

    The secure app is used when ``run_config['secure-aggregation']`` is true. Every
    message passes through the coordinator's audit wrapper when ``audit-dir`` is set.
    """
    if isinstance(run_config, StudyConfig):
        run_config = run_config.to_run_config()
    if app is None:
        app = secagg_client_app if run_config.get(RunKey.SECURE) else client_app
    return run_app(app, run_task, {**run_config, RunKey.NUM_SITES: len(sites)}, sites,
                   keep_messages=keep_messages, on_send=on_send)


def run_quality_inprocess(config: StudyConfig, sites: Sequence[str], *,
                          keep_messages: bool = False) -> tuple[dict[str, Any], InProcessGrid]:
    """The data-quality check alone (``task = "quality"``) with in-process sites."""
    return run_inprocess({**config.to_run_config(), RunKey.TASK: "quality"}, sites,
                         keep_messages=keep_messages)


def run_analytics_inprocess(config: StudyConfig, request: Mapping[str, Any],
                            sites: Sequence[str], *, keep_messages: bool = False
                            ) -> tuple[dict[str, Any], InProcessGrid]:
    """An analytics request (``task = "analytics"``) with in-process sites."""
    return run_inprocess({**config.to_run_config(), RunKey.TASK: "analytics",
                          RunKey.ANALYTICS_REQUEST: json.dumps(check_request(request),
                                                               sort_keys=True)},
                         sites, keep_messages=keep_messages)


def run_vertical_inprocess(parties: Sequence[Mapping[str, str]], run_config: Mapping[str, Any],
                           *, keep_messages: bool = False,
                           progress: Callable[[str], None] | None = None
                           ) -> tuple[dict[str, Any], InProcessGrid]:
    """A vertical study with each party an in-process ClientApp.

    ``parties``: one ``node_config`` per party (``site``, ``data``, ``id-column``,
    ``id-kind``, ``label`` for the label party, ``features``), as a SuperNode of that
    party would be started with.
    """
    grid = InProcessGrid(party_app, [dict(p) for p in parties], dict(run_config),
                         keep_messages=keep_messages)
    with quiet_flower():
        result = run_vertical(grid, grid.server_context(), progress=progress)
    if not keep_messages:
        grid.messages_sent.clear()
        grid.replies_received.clear()
    return result, grid
