"""Federation on Flower 1.41: the only package that imports ``flwr``.

Layers, each importing only those below it (checked in CI by import-linter):

``protocol``, ``result``, ``limbs``, ``audit``
    message types and run keys, the typed result of a run, the SecAgg+ limb encoding,
    audit-log records;
``site`` | ``coordinator`` (+ ``strategies``)
    the site's framework-neutral tasks and their Flower adapters; the coordinator's one
    study flow, sums (plain | SecAgg+), analytics and quality rounds. Neither imports
    the other;
``engines``
    where the apps run: in-process (the embedded default), Flower's Ray simulation, a
    real deployment (SuperLink + SuperNodes with TLS and node authentication).

``apps.server_app`` / ``apps.client_app`` / ``apps.secagg_client_app`` are the Flower apps.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fedcare.federation.result import FederatedRun, RoundRecord, SecureSummary, SiteInfo

if TYPE_CHECKING:
    from fedcare.federation.engines import InProcessGrid, run_inprocess, run_simulation
    from fedcare.federation.engines.deploy import submit
    from fedcare.federation.strategies import FedNewton, NormBound

__all__ = ["FedNewton", "FederatedRun", "InProcessGrid", "NormBound", "RoundRecord",
           "SecureSummary", "SiteInfo", "run_inprocess", "run_simulation", "submit"]

# The engines and strategies are imported when first asked for: a site's ClientApp
# process imports ``fedcare.federation.apps`` and should not pay for the in-process
# engine, the analytics or scikit-learn on every message.
_LAZY = {"InProcessGrid": "fedcare.federation.engines",
         "run_inprocess": "fedcare.federation.engines",
         "run_simulation": "fedcare.federation.engines",
         "submit": "fedcare.federation.engines.deploy",
         "FedNewton": "fedcare.federation.strategies",
         "NormBound": "fedcare.federation.strategies"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
