"""One message's worth of work for a site: what the coordinator sent and who the site is."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fedcare.config import StudyConfig

from ..protocol import ConfigKey, TaskResult
from .data import Missing, Prepared, Units, prepared

__all__ = ["SiteRequest", "Task"]


@dataclass
class SiteRequest:
    """One message's worth of work for a site.

    Attributes
    ----------
    config : StudyConfig
        The study's settings as this site applies them (its own ``data`` path).
    key : str
        Cache key of ``config``.
    name : str
        This site.
    units : tuple
        The site's own units (its site config's ``[units]``).
    missing : tuple
        The site's own missing-value codes (its site config's ``[missing]``).
    arrays : list of ndarray
        The arrays the coordinator sent (model arrays, Newton weights), in order.
    named : dict
        The same arrays by name (analytics requests).
    cfg : mapping
        The ``config`` record the coordinator sent.
    state : mutable mapping
        The site's state across the messages of one run (e.g. DP-SGD steps taken).
    cache : str, optional
        The site's own cache folder (its encoded split, :func:`.data.cached_split`);
        ``None``: nothing is kept on disk.
    """

    config: StudyConfig
    key: str
    name: str
    units: Units = ()
    missing: Missing = ()
    arrays: list[np.ndarray] = field(default_factory=list)
    named: dict[str, np.ndarray] = field(default_factory=dict)
    cfg: Mapping[str, Any] = field(default_factory=dict)
    state: MutableMapping[str, int] = field(default_factory=dict)
    cache: str | None = None

    def prepared(self) -> Prepared:
        """The site's split under the agreed schema, standardised as the coordinator said."""
        if self.config.images:  # an image study: slices as rows, no standardisation
            from .images import image_prepared

            return image_prepared(self.config, self.name, self.key)
        cfg = self.cfg
        mean = tuple(cast(list[float], cfg[ConfigKey.STD_MEAN])) if ConfigKey.STD_MEAN in cfg \
            else None
        scale = tuple(cast(list[float], cfg[ConfigKey.STD_SCALE])) \
            if ConfigKey.STD_SCALE in cfg else None
        return prepared(self.config, self.name, str(cfg[ConfigKey.SCHEMA]), mean, scale,
                        self.units, key=self.key, missing=self.missing, cache=self.cache)


Task = Callable[[SiteRequest], TaskResult]
"""A site task: a request in, a result out."""
