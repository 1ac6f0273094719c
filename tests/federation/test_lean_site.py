"""A site's ClientApp process (Flower starts one per message) imports no heavy package it
does not need: importing the site app and computing a Newton round's sums and a test-set
evaluation pulls in neither scikit-learn, nor scipy.stats, nor torch."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import numpy as np
import fedcare.federation.site.app
from fedcare.evaluation import binary_metrics
from fedcare.models._logistic_math import logistic_gradient_hessian
rng = np.random.default_rng(0)
X, y = rng.random((50, 3)), rng.integers(0, 2, 50)
logistic_gradient_hessian(X, y.astype(float), np.zeros(4))
binary_metrics(y, rng.random(50))
print(json.dumps([m for m in ("sklearn", "scipy.stats", "torch", "opacus", "lifelines",
                              "matplotlib", "fedcare.federation.coordinator")
                  if m in sys.modules]))
"""


def test_site_path_imports_no_heavy_package() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
