"""Historical averaging (Salimans et al. 2016, section 3.3)."""

from __future__ import annotations

from typing import Iterable, Literal, Optional

import torch
from torch import Tensor, nn

from ..errors import check_choice
from .base import BOTH, PLAYERS, Regularizer, StepContext


class ParameterHistory(nn.Module):
    """The running mean of a list of parameters over the steps so far, and the penalty
    ``sum_params ||theta - theta_bar||^2``. The mean and the count are buffers, so a resumed
    run continues the same average."""

    def __init__(self, params: Iterable[nn.Parameter]):
        super().__init__()
        # frozen tensors (e.g. G's batch-norm scale) never move, their penalty is always 0
        self.params = [p for p in params if p.requires_grad]
        for i, p in enumerate(self.params):
            self.register_buffer(f"mean_{i}", torch.zeros_like(p, memory_format=torch.contiguous_format))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self._t: Optional[int] = None  # host mirror of count: no device sync per step

    def _means(self) -> list[Tensor]:
        return [getattr(self, f"mean_{i}") for i in range(len(self.params))]

    def penalty(self) -> Tensor:
        """The unweighted penalty for the current parameters (0 before any history exists)."""
        if self._t is None:
            self._t = int(self.count)
        if self._t == 0:
            return self.params[0].new_zeros(())
        # a per-tensor subtraction keeps no reference to the mean, so record() may update it in
        # place before backward; sum of squares, not norm()^2, whose gradient is 0/0 at theta_bar
        return sum((p - m).square().sum() for p, m in zip(self.params, self._means()))

    @torch.no_grad()
    def record(self) -> None:
        """Add the current parameter values to the history."""
        if self._t is None:
            self._t = int(self.count)
        self._t += 1
        self.count.add_(1)
        # running mean: mean += (theta - mean) / t
        torch._foreach_lerp_(self._means(), [p.detach() for p in self.params], 1.0 / self._t)

    def _load_from_state_dict(self, *args, **kwargs):
        self._t = None
        super()._load_from_state_dict(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"tensors={len(self.params)}"


class HistoricalAveraging(Regularizer):
    """Historical averaging (Salimans et al. 2016, "Improved Techniques for Training GANs",
    section 3.3): a player's loss gets

    .. math:: w \\sum_i \\lVert \\theta_i - \\bar\\theta_i \\rVert^2, \\quad
              \\bar\\theta_t = \\frac1t \\sum_{s<t} \\theta_s

    where ``theta`` are the player's trainable tensors (its network and the objective's heads it
    trains) and ``theta_bar`` the mean of the values they had at all earlier steps. At the first
    step there is no history, so the penalty is 0. Each player keeps its own history; the
    current weights join it right after the penalty is taken, before the optimizer moves them.

    Args:
        weight: w (0 turns the term off).
        player: ``both`` (the paper: each player's loss gets its own term), ``discriminator``
            or ``generator``.
    """

    def __init__(self, weight: float = 0.01,
                 player: Literal["both", "discriminator", "generator"] = BOTH):
        check_choice("HistoricalAveraging.player", player, (*PLAYERS, BOTH))
        self.player = player  # an option here, not the class's fixed player
        super().__init__(weight)
        self.histories = nn.ModuleDict()

    def bind(self, discriminator_parameters, generator_parameters) -> None:
        for player, params in zip(PLAYERS, (discriminator_parameters, generator_parameters)):
            if self.serves(player):
                self.histories[player] = ParameterHistory(params)

    def forward(self, batch, step: StepContext) -> dict[str, Tensor]:
        history = self.histories[step.player]
        penalty = self.weight * history.penalty()
        history.record()
        return {"loss": penalty, f"ha_{step.player[0]}": penalty}
