"""Vertical studies on Flower: parties that hold different features of the same people.

:mod:`.party` is the parties' ClientApp, :mod:`.coordinator` the ServerApp body; the
cryptography and the model live in :mod:`fedcare.vertical` (no Flower there).
"""

from .coordinator import VerticalKey, run_vertical
from .party import party_app

__all__ = ["VerticalKey", "party_app", "run_vertical"]
