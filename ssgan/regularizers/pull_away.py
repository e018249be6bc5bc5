"""The pull-away term on D's features of generated images (Bad GAN, G's term)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .base import Regularizer, StepContext


def pull_away_term(features: Tensor) -> Tensor:
    """``sum_{i != j} cos(f_i, f_j)^2 / (n (n - 1))`` over the rows of ``features`` (n >= 2).

    A row of zeros (possible after a ReLU) counts as orthogonal to every other row rather than
    making the cosine NaN."""
    f = F.normalize(features.flatten(1).float(), dim=1)
    n = f.shape[0]
    if n < 2:
        return f.new_zeros(())
    cos2 = (f @ f.T).square()
    # the diagonal holds 1 for every non-zero row: remove it rather than mask the matrix
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


class PullAway(Regularizer):
    """Pull-away term on D's features of a generated batch.

    Zhao, Mathieu & LeCun 2017 (EBGAN), used by Dai et al. 2017, "Good Semi-supervised
    Learning That Requires a Bad GAN" (code: kimiyoung/ssl_bad_gan) as a cheap stand-in for
    G's entropy: G's loss gains

        w_pt * sum_{i != j} cos(f(G(z_i)), f(G(z_j)))^2 / (n (n - 1))

    with ``f`` D's matching features (the same layer as feature matching). It spreads the
    generated batch in feature space, against mode collapse. Added to G's loss, on the G
    step's generated batch.

    Args:
        weight: ``w_pt`` (0.8 is the authors' SVHN setting)."""

    player = "generator"

    def __init__(self, weight: float = 0.8):
        super().__init__(weight)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        pt = pull_away_term(batch.fake.features)
        return {"loss": self.weight * pt, "loss_pt": pt.detach()}
