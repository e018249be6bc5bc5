"""GAN objectives for the K+1 semi-supervised classifier-discriminator, one file each.

``--model.objective NAME`` picks one for both players (``--model.generator_objective`` and
``--model.discriminator_objective`` override a player); ``--model.objective.help NAME`` lists
its options. The pure losses they combine are in :mod:`ssgan.objectives.functional`.
"""

from ..errors import check_choice
from .base import (CrossEntropyDiscriminator, GANBatch, Objective, check_label_smoothing,
                   d_real_fake_means)
from .began import BEGAN
from .contragan import ContraGAN
from .feature_matching import FeatureMatching
from .functional import (began_convergence, began_k_update, contrastive_2c_loss,
                         feature_matching_loss, least_squares_loss, real_fake_logit,
                         reconstruction_energy, supervised_loss, unlabeled_loss)
from .lsgan import LSGAN
from .minimax import Minimax
from .nonsaturating import NonSaturating

#: the objectives by class name, the name ``--model.objective`` takes
OBJECTIVES: dict[str, type[Objective]] = {
    cls.__name__: cls for cls in (FeatureMatching, Minimax, NonSaturating, LSGAN, BEGAN, ContraGAN)}


def objective_class(name: str) -> type[Objective]:
    """The objective called ``name``; case and underscores are ignored (``lsgan``,
    ``feature_matching`` and ``FeatureMatching`` all work)."""
    by_key = {k.lower(): k for k in OBJECTIVES}
    key = by_key.get(name.replace("_", "").lower())
    if key is None:
        check_choice("objective", name, OBJECTIVES)
    return OBJECTIVES[key]


__all__ = ["BEGAN", "ContraGAN", "CrossEntropyDiscriminator", "FeatureMatching", "GANBatch",
           "LSGAN", "Minimax", "NonSaturating", "OBJECTIVES", "Objective", "began_convergence",
           "began_k_update", "check_label_smoothing", "contrastive_2c_loss",
           "d_real_fake_means", "feature_matching_loss", "least_squares_loss", "objective_class",
           "real_fake_logit", "reconstruction_energy", "supervised_loss", "unlabeled_loss"]
