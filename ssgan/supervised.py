"""The supervised-only baseline: ``python train.py --model Supervised``."""

from __future__ import annotations

from .classifier import ClassifierModule
from .steps import adam, supervised_step


class Supervised(ClassifierModule):
    """The GAN's classifier D trained on the labeled batches alone: the same network (the
    ``networks`` component), the same data module and batches, the same optimiser settings and
    EMA evaluation copy, from the same defaults (:class:`~ssgan.classifier.ClassifierModule`).
    No generator is trained and the unlabeled images are not used.

    Args:
        **kwargs: the options of :class:`~ssgan.classifier.ClassifierModule`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # G is built and dropped: building it advances the random stream, and keeping the
        # stream the GAN's makes a seed's baseline run draw the same noise as in earlier versions
        self.discriminator, _ = self._build_networks()
        self._init_ema()

    @classmethod
    def from_hparams(cls, hparams) -> "Supervised":
        """The baseline of a checkpoint's ``model.hparams`` (of any training module): its
        classifier options, the rest dropped."""
        import inspect

        from pytorch_lightning.cli import instantiate_module

        keep = inspect.signature(ClassifierModule.__init__).parameters
        hparams = dict(hparams)
        options = {k: v for k, v in hparams.items() if k in keep}
        if "_class_path" not in hparams:  # a module built in Python: its options are objects
            return cls(**options)
        return instantiate_module(cls, {"_class_path": f"{cls.__module__}.{cls.__name__}",
                                        **options})

    def configure_optimizers(self):
        return adam(self.discriminator.parameters(), self.hparams.lr, self.hparams.betas,
                    self.hparams.adam_eps)

    def training_step(self, batch, batch_idx: int) -> dict:
        self._apply_lr_schedule(batch_idx)
        logs = supervised_step(self.discriminator, batch[0], batch[1], self.optimizers(),
                               ema=self.ema, backward=self.manual_backward)
        self._accumulate_train_logs(logs)
        return {"loss_d": logs["train/loss_lab"]}
