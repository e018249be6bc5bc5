"""Terms added to a player's loss, chosen with ``--model.regularizers+=Name`` (see base.py)."""

from .base import PLAYERS, Regularizer, StepContext

__all__ = ["PLAYERS", "Regularizer", "StepContext"]
