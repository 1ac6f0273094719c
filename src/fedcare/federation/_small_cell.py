"""Small-cell protection as a Flower client mod: applied to every reply a site sends."""

from __future__ import annotations

from typing import cast

from flwr.app import Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedcare.privacy import suppress_small_cells

__all__ = ["make_small_cell_mod"]


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
        k = int(cast(int, context.run_config.get("min-cell", 5)))
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
