"""Terms added to a player's loss, chosen with ``--model.regularizers+=Name`` (see base.py)."""

from .base import BOTH, PLAYERS, Regularizer, StepContext
from .historical_averaging import HistoricalAveraging, ParameterHistory

__all__ = ["BOTH", "HistoricalAveraging", "PLAYERS", "ParameterHistory", "Regularizer",
           "StepContext"]
