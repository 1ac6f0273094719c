"""A site's policy as a Flower client mod: refuse any task its config does not allow."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import cast

from flwr.app import Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedcare.exceptions import FedcareError
from fedcare.study._config import StudyConfig
from fedcare.study._policy import SitePolicy

__all__ = ["PolicyRefusal", "make_policy_mod"]


class PolicyRefusal(FedcareError, PermissionError):
    """A site refused a task that its policy does not allow."""

    exit_code = 6


@lru_cache(maxsize=16)
def _policy(path: str) -> SitePolicy:
    return SitePolicy.from_toml(path)


def make_policy_mod() -> Mod:
    """A mod checking each message's study against the site's ``[policy]``.

    The policy file is named by ``node_config["site-config"]``; without one, the site
    accepts every study. A refusal becomes the site's error reply, which the coordinator
    reports with the site's name and every reason.
    """

    def policy_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        path = context.node_config.get("site-config")
        if not path:
            return call_next(message, context)
        policy = _policy(str(path))
        site = context.node_config.get("site", f"node {context.node_id}")
        reasons = policy.violations(StudyConfig.from_run_config(dict(context.run_config)))
        if reasons:
            raise PolicyRefusal(f"site '{site}' refuses this study: " + "; ".join(reasons))
        reply = call_next(message, context)
        if (message.metadata.message_type == "query.schema" and policy.min_cohort > 1
                and not reply.has_error()):
            rows = float(cast(float, reply.content.metric_records["metrics"]["n-rows"]))
            if math.isnan(rows) or rows < policy.min_cohort:
                raise PolicyRefusal(f"site '{site}' refuses this study: fewer usable "
                                    f"patients than its minimum cohort {policy.min_cohort}")
        return reply

    return policy_mod
