"""Asking sites: wait for them, send one message each, check who answered.

Flower's strategy loop only logs a failed reply and carries on; here every round says
what a study requires. With ``min_sites`` 0 every site must answer (a failure stops the
study, naming the site and its reason); otherwise a round goes ahead with the sites that
answered if at least ``min_sites`` did, and each absent site is recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from flwr.app import ArrayRecord, Context, Message
from flwr.serverapp import Grid

from fedcare.exceptions import FederationError, PrivacyBudgetError

from ..protocol import RunKey, request, site_of

__all__ = ["Answers", "ask", "check_replies", "site_failure", "wait_for_sites"]

log = logging.getLogger("fedcare")


def site_failure(prefix: str, failed: Sequence[str]) -> FederationError | PrivacyBudgetError:
    """The error for failed sites: a privacy-budget refusal keeps its own type (exit 7)."""
    text = prefix + "; ".join(failed)
    if failed and all("PrivacyBudgetError" in f for f in failed):
        return PrivacyBudgetError(text)
    return FederationError(text)


@dataclass
class Answers:
    """The valid replies of a round (in the order they came) and who did not answer."""

    replies: list[Message]
    absent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def check_replies(replies: Iterable[Message], names: Mapping[int, str], *, what: str,
                  min_sites: int = 0) -> Answers:
    """Keep the valid replies; stop the study when the round cannot go ahead.

    Parameters
    ----------
    replies : iterable of Message
        What came back (error replies included).
    names : mapping
        Node id -> site name of every site asked.
    what : str
        The round, for messages (e.g. ``round 3 (train)``).
    min_sites : int
        0: every site must answer; else the least number of valid replies.

    Raises
    ------
    FederationError, PrivacyBudgetError
        A site failed or stayed silent (``min_sites`` 0), or fewer than ``min_sites``
        answered.
    """
    replies = list(replies)
    failed = [f"site '{names.get(r.metadata.src_node_id, r.metadata.src_node_id)}': "
              f"{r.error.reason}" for r in replies if r.has_error()]
    valid = [r for r in replies if not r.has_error()]
    answered = {r.metadata.src_node_id for r in valid}
    absent = sorted(site for node, site in names.items() if node not in answered)
    if not min_sites:
        if failed:
            raise site_failure(f"{what}: ", failed)
        if absent:
            raise FederationError(f"{what}: no answer from {absent} within round_timeout")
    elif len(valid) < min_sites:
        raise FederationError(
            f"{what}: {len(valid)} site(s) answered, fewer than min_sites_per_round "
            f"{min_sites}; failures: {'; '.join(failed) or 'none'}")
    for site in absent:
        log.warning("%s: site '%s' missing, going ahead with %d site(s)", what, site,
                    len(valid))
    return Answers(valid, absent, failed)


def ask(grid: Grid, nodes: Sequence[int], message_type: str, config: Mapping[str, Any],
        arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray] | ArrayRecord | None = None,
        *, timeout: float = 3600, min_sites: int = 0,
        names: Mapping[int, str] | None = None) -> list[Message]:
    """Send one ``message_type`` message to each node; the valid replies, sorted by site.

    ``names`` (node id -> site) names the silent sites; without it they are named by
    node id. See :func:`check_replies` for ``min_sites``.
    """
    messages = [request(message_type, node, config, arrays) for node in nodes]
    replies = grid.send_and_receive(messages, timeout=timeout)
    names = dict(names) if names is not None else {n: f"node {n}" for n in nodes}
    answers = check_replies(replies, {n: names.get(n, f"node {n}") for n in nodes},
                            what=message_type, min_sites=min_sites)
    return sorted(answers.replies, key=site_of)


def wait_for_sites(grid: Grid, context: Context) -> list[int]:
    """Node ids once ``num-sites`` have connected (or ``wait-for-sites`` seconds passed)."""
    expected = int(cast(int, context.run_config.get(RunKey.NUM_SITES, 0)))
    deadline = time.time() + float(cast(float, context.run_config.get(RunKey.WAIT_FOR_SITES,
                                                                     60)))
    node_ids = sorted(grid.get_node_ids())
    while (len(node_ids) < max(expected, 1)) and time.time() < deadline:
        time.sleep(0.2)
        node_ids = sorted(grid.get_node_ids())
    if not node_ids:
        raise FederationError("no site connected")
    return node_ids
