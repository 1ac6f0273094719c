"""Message-API adapters: a Flower message in, a site task run, a reply out.

One adapter serves every task of :data:`fedcare.federation.site.tasks.TASKS`: it reads
the study's settings and the site's name from the Context, the arrays and config from
the message, runs the task and wraps its result (arrays, aggregate metrics, the site's
name) in the reply.
"""

from __future__ import annotations

from collections.abc import Callable

from flwr.app import Context, Message

from ..protocol import config_of, decode_arrays, reply
from .context import SITE_CONFIG_KEY, load_state, save_state, settings, site_name
from .data import missing_of, site_cache_dir, units_of
from .request import SiteRequest, Task

__all__ = ["handler", "site_request"]


def site_request(message: Message, context: Context) -> SiteRequest:
    """The task request a message stands for, at this site."""
    config, key = settings(context)
    content = message.content
    site_config = context.node_config.get(SITE_CONFIG_KEY)
    arrays, named = decode_arrays(content)
    path = str(site_config) if site_config else None
    return SiteRequest(config=config, key=key, name=site_name(context, config),
                       units=units_of(path), missing=missing_of(path),
                       arrays=arrays, named=named, cfg=config_of(content),
                       state=load_state(context), cache=site_cache_dir(path))


def handler(task: Task) -> Callable[[Message, Context], Message]:
    """The Flower handler running ``task``."""

    def handle(message: Message, context: Context) -> Message:
        req = site_request(message, context)
        result = task(req)
        save_state(context, req.state)
        return reply(message, req.name, result)

    handle.__name__ = handle.__qualname__ = getattr(task, "__name__", "handle")
    handle.__doc__ = task.__doc__
    return handle
