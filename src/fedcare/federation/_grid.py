"""An in-process Flower Grid: hands each Message straight to the site's ClientApp.

This is fedcare's embedded default: the same ServerApp and ClientApp objects that run
on Flower's simulation and deployment engines run here, in one process, with no
network and no Ray (about 0.04 s a round for four small sites).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from itertools import count

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.proto.node_pb2 import NodeInfo
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

__all__ = ["GridWrapper", "InProcessGrid"]

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
    """

    def __init__(self, client_app: ClientApp, node_configs: list[dict[str, str | int | float]],
                 run_config: dict[str, str | int | float | bool], run_id: int = 1,
                 on_send: Callable[[str], None] | None = None) -> None:
        self._app = client_app
        self._on_send = on_send
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


class GridWrapper(Grid):
    """A Grid that delegates every call to another; subclasses override what they add.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        The grid doing the work.
    """

    def __init__(self, grid: Grid) -> None:
        self._grid = grid

    def set_run(self, run: Run) -> None:
        self._grid.set_run(run)

    @property
    def run(self) -> Run:
        return self._grid.run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def get_nodes(self) -> Iterable[NodeInfo]:
        return self._grid.get_nodes()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self._grid.send_and_receive(messages, timeout=timeout)
