"""Asking sites: wait for them, send one message each, check who answered.

Flower's strategy loop only logs a failed reply and carries on; here every round says
what a study requires. With ``min_sites`` 0 every site must answer (a failure stops the
study, naming the site and its reason); otherwise a round goes ahead with the sites that
answered if at least ``min_sites`` did, and each absent site is recorded.

A failed reply's reason is reported as one readable line per site
(:func:`failure_line`): Flower's wrapping (``<class '...'>:<'...'>``) is removed, and
sites that failed for the same reason are named once (:func:`summarise_failures`).
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from flwr.app import ArrayRecord, Context, Message, RecordDict
from flwr.serverapp import Grid

from fedcare.exceptions import FederationError, PrivacyBudgetError

from ..protocol import RunKey, request, site_of

__all__ = ["Answers", "ask", "check_replies", "failure_line", "site_failure",
           "summarise_failures", "wait_for_sites", "with_content"]

log = logging.getLogger("fedcare")


#: Flower's reason for an exception in a deployed ClientApp: "<class 'mod.Name'>:<'text'>".
_FLOWER_REASON = re.compile(r"^<class '(?:[\w.]*\.)?(\w+)'>:<'(.*)'>$", re.S)
#: What Flower's simulation puts before the text of a ClientApp's exception.
_SIMULATION = re.compile(r"^\s*Exception ClientAppException occurred\. Message:\s*", re.S)
#: The in-process engine's reason: "Name: text".
_NAMED = re.compile(r"^([A-Z]\w*(?:Error|Exception|Refusal|Exited|Interrupt)): (.*)$", re.S)
#: A failure line's site: "site 'va' refuses ..." or "site 'va': ...".
_SITE = re.compile(r"^site '([^']+)'(?=[ :])")
_POLICY_COMMAND = re.compile(r"(fedcare site policy )\S+")
_MAX_REASON = 400  # characters of one site's reason
_ANY = "\0"  # stands for a site's name while lines are compared


def _unwrap(reason: str) -> tuple[str, str]:
    """A reply's error reason as (exception class name or "", its text on one line)."""
    text, name = reason.strip(), ""
    match = _FLOWER_REASON.match(text)
    if match:
        name, text = match.group(1), match.group(2)
    text = _SIMULATION.sub("", text)
    if name == "ClientAppException":
        name = ""
    match = _NAMED.match(text)
    if match:
        name, text = match.group(1), match.group(2)
    text = " ".join(text.split())
    if len(text) > _MAX_REASON:
        text = text[:_MAX_REASON - 3] + "..."
    return name, text


def failure_line(site: str, reason: str) -> str:
    """One readable line for a site's failed reply.

    ``site 'va' refuses this study: <rules and fixes>`` for a policy refusal (whose text
    names its site), else ``site 'va': DataError: <text>``; never Flower's class reprs.
    """
    name, text = _unwrap(reason)
    if re.match(r"^site '[^']+' refuses ", text):
        return text
    return f"site '{site}': {name}: {text}" if name else f"site '{site}': {text}"


def _generic(line: str) -> tuple[str, str]:
    """A failure line's site and the line with that site (and its folder) left out."""
    match = _SITE.match(line)
    if not match:
        return "", line
    site = match.group(1)
    return site, _POLICY_COMMAND.sub(r"\1<site folder>",
                                     line.replace(f"'{site}'", f"'{_ANY}'"))


def _quoted(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def summarise_failures(lines: Sequence[str], asked: int | None = None) -> str:
    """Per-site failure lines (:func:`failure_line`) as one line, each reason once.

    Sites that failed for the same reason (their own name and folder aside) are named
    together: ``all 4 sites refuse this study: ...`` when each of the ``asked`` sites
    did, ``sites 'a' and 'b': DataError: ...`` otherwise. Groups are separated by
    `` | ``.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for line in lines:
        site, key = _generic(line)
        groups.setdefault(key, []).append((site, line))
    out = []
    for key, members in groups.items():
        if len(members) == 1:
            out.append(members[0][1])
            continue
        rest = key.removeprefix(f"site '{_ANY}'")
        rest = rest.replace(f"site '{_ANY}'", "the site").replace(f"'{_ANY}'", "<site>")
        if rest.startswith(" refuses "):
            rest = " refuse " + rest.removeprefix(" refuses ")
        who = (f"all {len(members)} sites" if len(members) == asked
               else f"sites {_quoted([site for site, _ in members])}")
        out.append(who + rest)
    return " | ".join(out)


def site_failure(prefix: str, failed: Sequence[str], asked: int | None = None
                 ) -> FederationError | PrivacyBudgetError:
    """The error for failed sites: their :func:`failure_line` s summarised in one line
    (:func:`summarise_failures`); a privacy-budget refusal keeps its own type (exit 7)."""
    text = prefix + summarise_failures(failed, asked)
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
    failed = [failure_line(str(names.get(r.metadata.src_node_id, r.metadata.src_node_id)),
                           r.error.reason or f"error code {r.error.code}")
              for r in replies if r.has_error()]
    valid = [r for r in replies if not r.has_error()]
    answered = {r.metadata.src_node_id for r in valid}
    absent = sorted(site for node, site in names.items() if node not in answered)
    if not min_sites:
        if failed:
            raise site_failure(f"{what}: ", failed, len(names))
        if absent:
            raise FederationError(f"{what}: no answer from {absent} within round_timeout")
    elif len(valid) < min_sites:
        raise FederationError(
            f"{what}: {len(valid)} site(s) answered, fewer than min_sites_per_round "
            f"{min_sites}; failures: {summarise_failures(failed, len(names)) or 'none'}")
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


def with_content(reply: Message, content: RecordDict) -> Message:
    """A shallow copy of ``reply`` (same metadata, read only) holding ``content``: a part
    of a reply, as the reply that part stands for would hold it."""
    view = copy.copy(reply)
    view.content = content
    return view


def part_view(reply: Message, metrics: str, *also: str) -> Message:
    """A part of ``reply``, as the reply of the request it answers would hold it: its
    metric record ``metrics`` as ``metrics``, the records ``also`` (when there), its
    ``arrays`` (when there) and its ``site`` record (:func:`with_content`)."""
    records = reply.content.metric_records
    content = RecordDict({"metrics": records[metrics],
                          "site": reply.content.config_records["site"]})
    for key in also:
        if key in records:
            content[key] = records[key]
    if "arrays" in reply.content.array_records:
        content["arrays"] = reply.content.array_records["arrays"]
    return with_content(reply, content)


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
