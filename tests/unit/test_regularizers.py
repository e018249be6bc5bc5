"""Regularizers: historical averaging pinned, and how the step adds a term to a player's loss."""

import pytest
import torch
from torch import nn

from ssgan.errors import SSGANError
from ssgan.model import SSGAN
from ssgan.regularizers import HistoricalAveraging, ParameterHistory, Regularizer, StepContext


def context(player: str) -> StepContext:
    x = torch.zeros(1, 1)
    return StepContext(nn.Identity(), nn.Identity(), x, x, x, x, player=player)


def test_historical_averaging_penalty():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    q = nn.Parameter(torch.tensor([3.0]))
    frozen = nn.Parameter(torch.tensor([7.0]), requires_grad=False)
    ha = HistoricalAveraging(weight=0.5, player="discriminator")
    ha.bind([p, q, frozen], [])
    first = ha(None, context("discriminator"))  # first step: no history; records (1, 2), (3)
    assert float(first["loss"]) == 0.0 and "ha_d" in first
    with torch.no_grad():
        p.copy_(torch.tensor([3.0, 5.0]))
        q.copy_(torch.tensor([1.0]))
    # 0.5 * ((3-1)^2 + (5-2)^2 + (1-3)^2); the history mean becomes (2, 3.5), (2)
    pen = ha(None, context("discriminator"))["loss"]
    assert float(pen) == pytest.approx(0.5 * (4 + 9 + 4))
    pen.backward()  # recording after the penalty must not break its backward
    assert torch.allclose(p.grad, torch.tensor([2.0, 3.0]))  # 0.5 * 2 * (theta - old mean)
    with torch.no_grad():
        p.zero_()
        q.zero_()
    assert float(ha(None, context("discriminator"))["loss"]) == pytest.approx(0.5 * (4 + 3.5 ** 2 + 4))


def test_historical_averaging_keeps_one_history_per_player():
    d, g = nn.Parameter(torch.tensor([1.0])), nn.Parameter(torch.tensor([10.0]))
    ha = HistoricalAveraging(weight=1.0)  # both players, as in the paper
    ha.bind([d], [g])
    assert ha.serves("discriminator") and ha.serves("generator")
    ha(None, context("discriminator"))
    ha(None, context("generator"))
    with torch.no_grad():
        d.fill_(2.0)
        g.fill_(13.0)
    assert float(ha(None, context("discriminator"))["loss"]) == pytest.approx(1.0)
    assert float(ha(None, context("generator"))["ha_g"]) == pytest.approx(9.0)
    only_g = HistoricalAveraging(player="generator")
    assert only_g.serves("generator") and not only_g.serves("discriminator")
    with pytest.raises(SSGANError, match="player"):
        HistoricalAveraging(player="critic")


def test_historical_averaging_state_survives_a_state_dict_round_trip():
    p = nn.Parameter(torch.tensor([1.0]))
    h = ParameterHistory([p])
    h.record()
    p2 = nn.Parameter(torch.tensor([4.0]))
    h2 = ParameterHistory([p2])
    h2.load_state_dict(h.state_dict())
    assert float(h2.penalty()) == pytest.approx(9.0)


def test_the_model_binds_each_players_parameters():
    ha = HistoricalAveraging()
    model = SSGAN(regularizers=[ha])
    d_params, g_params = model.parts.player_parameters()
    trainable = lambda ps: [p for p in ps if p.requires_grad]  # noqa: E731
    assert ha.histories["discriminator"].params == trainable(d_params)
    assert ha.histories["generator"].params == trainable(g_params)
    assert model.regularizers[0] is ha


def test_a_regularizer_checks_its_weight():
    class Term(Regularizer):
        def forward(self, batch, step):
            return {"loss": self.weight * step.x_lab.sum()}

    with pytest.raises(SSGANError, match="Term.weight"):
        Term(weight=-1.0)
    assert Term(weight=2.0).serves("discriminator") and not Term().serves("generator")
