"""Engines that run fedcare's Flower apps: in this process (the embedded default),
on Flower's Ray simulation, or on a real deployment (SuperLink + SuperNodes)."""

from fedcare.federation.engines.inprocess import InProcessGrid, run_app, run_inprocess
from fedcare.federation.engines.simulation import run_simulation

__all__ = ["InProcessGrid", "run_app", "run_inprocess", "run_simulation"]
