"""A site's ClientApp process (Flower starts one per message) imports no heavy package it
does not need: importing the site app and answering a study's messages on its own table
(schema, imputation sums, standardisation sums, a Newton round, a test-set evaluation;
each reads, encodes and splits the site's rows) pulls in neither scikit-learn, nor
scipy.stats, nor torch. (The split was scikit-learn's until a probe of the whole path
found it: 2-3 s of every ClientApp process.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
import numpy as np
import fedcare.federation.site.app
from fedcare.config import StudyConfig
from fedcare.federation.protocol import ConfigKey, MessageType
from fedcare.federation.site.data import config_key
from fedcare.federation.site.request import SiteRequest
from fedcare.federation.site.tasks import TASKS

config = StudyConfig(data=sys.argv[1], target="event", strategy="newton",
                     missing="impute")

def ask(kind, cfg=None, arrays=()):
    req = SiteRequest(config, config_key(config), "south", cfg=cfg or {},
                      arrays=[np.asarray(a) for a in arrays])
    return TASKS[kind](req)

schema = ask(MessageType.SCHEMA).texts["schema"]
cfg = {ConfigKey.SCHEMA: schema}
ask(MessageType.IMPUTE, cfg)
total, total_sq = ask(MessageType.MOMENTS, cfg).arrays
n_coef = len(total)
cfg = {**cfg, ConfigKey.STD_MEAN: [0.0] * n_coef, ConfigKey.STD_SCALE: [1.0] * n_coef}
ask(MessageType.NEWTON, cfg, [np.zeros(n_coef + 1)])
ask(MessageType.EVALUATE, cfg, [np.zeros((1, n_coef)), np.zeros(1)])
print(json.dumps([m for m in ("sklearn", "scipy.stats", "torch", "opacus", "lifelines",
                              "matplotlib", "fedcare.federation.coordinator")
                  if m in sys.modules]))
"""


def test_site_path_imports_no_heavy_package(synthetic_sites: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(synthetic_sites)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_lazy_analytics_tasks_are_the_analytics_module_s() -> None:
    """The site app names the analytics message types without importing their module
    (pandas); the names must be exactly those the module answers."""
    from fedcare.federation.site import analytics
    from fedcare.federation.site.tasks import ANALYTICS_TYPES, TASKS

    assert set(ANALYTICS_TYPES) == set(analytics.TASKS)
    assert set(ANALYTICS_TYPES) <= set(TASKS)
