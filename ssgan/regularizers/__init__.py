"""Terms added to a player's loss, chosen with ``--model.regularizers+=Name`` (see base.py)."""

from .base import BOTH, PLAYERS, Regularizer, StepContext, evaluation_mode
from .class_balance import ClassBalance, class_balance_loss
from .consistency import Consistency, consistency_loss
from .entropy import EntropyMinimization, conditional_entropy
from .historical_averaging import HistoricalAveraging, ParameterHistory
from .interpolation import InterpolationConsistency, interpolation_consistency_loss, mix
from .labeled_augmentation import LabeledAugmentation
from .manifold import (ManifoldRegularization, manifold_neighbour, manifold_penalty,
                       random_unit_directions)
from .pseudo_label import PseudoLabel, pseudo_label_loss
from .pull_away import PullAway, pull_away_term
from .virtual_adversarial import (VirtualAdversarial, adversarial_direction, kl_divergence,
                                  unit_rows)

__all__ = ["BOTH", "PLAYERS", "Regularizer", "StepContext",
           "HistoricalAveraging", "ParameterHistory",
           "EntropyMinimization", "conditional_entropy",
           "PullAway", "pull_away_term",
           "ManifoldRegularization", "manifold_neighbour", "manifold_penalty",
           "random_unit_directions",
           "ClassBalance", "class_balance_loss",
           "Consistency", "consistency_loss",
           "PseudoLabel", "pseudo_label_loss",
           "InterpolationConsistency", "interpolation_consistency_loss", "mix",
           "LabeledAugmentation",
           "VirtualAdversarial", "adversarial_direction", "kl_divergence", "unit_rows",
           "evaluation_mode"]
