"""Federation on Flower 1.41: the only package that imports ``flwr``.

``apps.server_app`` / ``apps.client_app`` are the Flower apps; ``run_inprocess`` runs
them in this process, ``run_simulation`` on Flower's simulation engine.
"""

from fedcare.federation._grid import InProcessGrid
from fedcare.federation._newton import FedNewton
from fedcare.federation._robust import NormBound
from fedcare.federation._run import run_inprocess
from fedcare.federation._simulation import run_simulation

__all__ = ["FedNewton", "InProcessGrid", "NormBound", "run_inprocess", "run_simulation"]
