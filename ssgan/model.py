"""The semi-supervised GAN LightningModule: it receives its parts and runs the shared step.

Parts (each a typed component with its own options, chosen on the command line):

* ``objective`` (:mod:`ssgan.objectives`): the adversarial losses, for both players unless
  ``generator_objective`` / ``discriminator_objective`` override one;
* ``regularizers`` (:mod:`ssgan.regularizers`): terms added to a player's loss;
* ``networks`` (:mod:`ssgan.networks`): builds D and G;
* the EMA copy of D used for evaluation, the optimiser settings and the data-dependent init
  (:class:`~ssgan.classifier.ClassifierModule`, shared with the supervised baseline).

The training step itself is :func:`ssgan.steps.gan_step` (Salimans et al. 2016): a D step on
``L_lab + w * L_adv``, a G step on the objective's generator loss, then the EMA update. This
module holds only the Lightning hooks around it.
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
from jsonargparse import lazy_instance
from torch import Tensor

from .classifier import ClassifierModule, training_augmentation
from .errors import SSGANError, check_positive
from .objectives import FeatureMatching, Objective
from .regularizers import Regularizer
from .steps import GANParts, adam, gan_step, sample


class SSGAN(ClassifierModule):
    """Semi-supervised GAN (Salimans et al. 2016) with pluggable parts.

    Args:
        objective: the GAN objective of both players (``FeatureMatching``, ``Minimax``,
            ``NonSaturating``, ``LSGAN``, ``BEGAN``, ``ContraGAN``; ``--model.objective.help
            NAME`` lists its options).
        generator_objective: override the generator's objective.
        discriminator_objective: override the discriminator's adversarial objective.
        regularizers: terms added to a player's loss, e.g. ``HistoricalAveraging``
            (``--model.regularizers+=NAME``).
        unlabeled_weight: w in ``L_D = L_lab + w * L_adv``.
        lr_g: Adam learning rate of G (default: ``lr``). With
            ``configs/conv_mlp_mirror_30min.yaml`` as it was before session 21 (lr 1e-3), G at
            3e-3 gave 21.46 / 20.90 % after 30 minutes on Fashion-MNIST-100 split seeds 1 / 2,
            against 21.94 / 20.70 % with G at 1e-3, and G at 3e-4 was behind in a screen
            (BENCHMARKS.md, session 19).
        **kwargs: the options of :class:`~ssgan.classifier.ClassifierModule` (image shape,
            classes, networks, lr, betas, lr decay, EMA, data init).
    """

    has_generator = True
    optimizer_steps_per_batch = 2  # one D step, one G step

    def __init__(self, objective: Objective = lazy_instance(FeatureMatching),
                 generator_objective: Optional[Objective] = None,
                 discriminator_objective: Optional[Objective] = None,
                 regularizers: Optional[list[Regularizer]] = None,
                 unlabeled_weight: float = 1.0, lr_g: Optional[float] = None, **kwargs):
        super().__init__(**kwargs)
        check_positive("model.lr_g", lr_g)
        check_positive("model.unlabeled_weight", unlabeled_weight, allow_zero=True)
        g_src = generator_objective or objective
        d_src = discriminator_objective or objective
        if d_src is not g_src and g_src.generator_needs_own_discriminator:
            name = type(g_src).__name__
            raise SSGANError(f"generator objective {name} trains through heads that only its own "
                             f"discriminator loss trains; use it for both players "
                             f"(--model.objective {name}) or pick another generator objective")
        # the components are settings until set up here; copies keep a default instance (shared
        # by every SSGAN built without arguments) free of one model's heads
        g_obj = copy.deepcopy(g_src)
        d_obj = g_obj if d_src is g_src else copy.deepcopy(d_src)
        self.discriminator, self.generator = self._build_networks(conditional=g_obj.conditional)
        sizes = dict(num_classes=self.num_classes, feature_dim=self.discriminator.feature_dim,
                     image_shape=self.image_shape)
        # G's objective first, then D's: the order their heads draw their initial weights
        self.g_objective = g_obj.setup(**sizes)
        self.d_objective = self.g_objective if d_obj is g_obj else d_obj.setup(**sizes)
        self.regularizers = torch.nn.ModuleList(regularizers or [])
        self.parts = GANParts(self.discriminator, self.generator, self.d_objective,
                              self.g_objective, self.num_classes, list(self.regularizers),
                              unlabeled_weight)
        d_params, g_params = self.parts.player_parameters()
        for reg in self.regularizers:
            reg.bind(d_params, g_params)
        self._init_ema()
        self.parts.ema = self.ema

    # -- public helpers ------------------------------------------------------------------------
    def sample(self, n: int, y: Optional[Tensor] = None) -> tuple[Tensor, Optional[Tensor]]:
        """Draw ``n`` generated images (and the classes asked for, for a conditional G)."""
        x, y, _ = sample(self.generator, n, conditional=self.g_objective.conditional,
                         num_classes=self.num_classes, device=self.device, y=y)
        return x, y

    # -- training ------------------------------------------------------------------------------
    def learning_rates(self) -> list[float]:
        return [self.hparams.lr, self.hparams.lr_g or self.hparams.lr]

    def configure_optimizers(self):
        d_params, g_params = self.parts.player_parameters()
        lr_d, lr_g = self.learning_rates()
        betas, eps = self.hparams.betas, self.hparams.adam_eps
        return [adam(d_params, lr_d, betas, eps), adam(g_params, lr_g, betas, eps)]

    def on_fit_start(self) -> None:
        super().on_fit_start()
        g = self.generator
        if getattr(g, "wants_data_init", False) and not bool(g.initialised):
            # the original MNIST code: G's output layer on one batch of generated images
            n = int(getattr(self.trainer.datamodule, "hparams", {}).get("batch_size", 100))
            z = g.sample_latent(n, device=self.device)
            y = (torch.randint(0, self.num_classes, (n,), device=self.device)
                 if self.g_objective.conditional else None)
            g.data_init(z, y)
        self.parts.augment = training_augmentation(self.trainer.datamodule)

    def training_step(self, batch, batch_idx: int) -> dict:
        opt_d, opt_g = self.optimizers()
        self._apply_lr_schedule(batch_idx)
        logs, x_fake = gan_step(self.parts, batch, opt_d, opt_g, backward=self.manual_backward)
        self._accumulate_train_logs(logs)
        # handed to callbacks (on_train_batch_end's ``outputs``), e.g. a divergence guard
        return {"loss_d": logs["train/loss_d"], "loss_g": logs["train/loss_g"], "x_fake": x_fake}
