"""The cost model: equal to complexity.py on the decoded network for any
hard state, and within 2% of mmengine's count of the decoded AutoNLNet."""
import random

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

from autonl_mmseg.models.backbones import AutoNLNet
from autonl_mmseg.models.utils.complexity import genotype_macs
from autonl_mmseg.search import AutoNLSuperNet, SearchCostModel

from .helpers import randomise_state, tiny_space


class Classifier(nn.Module):
    """AutoNLNet -> global average pool -> FC, as the MMPretrain config."""

    def __init__(self, genotype, num_classes):
        super().__init__()
        self.backbone = AutoNLNet(genotype)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(genotype['head_channels'], num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.backbone(x)[-1]).flatten(1))


def mmengine_macs(genotype, size, num_classes):
    model = Classifier(genotype, num_classes).eval()
    analyzer = FlopAnalyzer(model, torch.randn(1, 3, size, size))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_operator = analyzer.by_operator()
    # BN is not counted by the paper's rules (folded at inference)
    by_operator.pop('batch_norm', None)
    return sum(by_operator.values()), by_operator


@pytest.fixture(scope='module')
def supernet():
    return AutoNLSuperNet()


@pytest.mark.parametrize('size,num_classes,seed', [(224, 1000, 0),
                                                   (224, 1000, 1),
                                                   (224, 1000, 2),
                                                   (56, 6, 3), (56, 6, 4),
                                                   (32, 6, 5)])
def test_cost_model_matches_mmengine(supernet, size, num_classes, seed):
    randomise_state(supernet, random.Random(seed))
    cost_model = SearchCostModel(supernet, size, num_classes)
    genotype = supernet.decode()
    expected = cost_model(supernet)
    analytic = genotype_macs(genotype, (size, size), num_classes)['total']
    assert expected.item() == analytic  # exactly: the same rules
    counted, by_operator = mmengine_macs(genotype, size, num_classes)
    assert set(by_operator) <= {'conv', 'bmm', 'adaptive_avg_pool2d',
                                'linear', 'addmm'}
    assert abs(expected.item() - counted) / counted < 0.02
    # mmengine counts the FC and SE pools by the same rules: exact here
    assert expected.item() == counted


def calibrated_supernet(seed=0):
    """A tiny supernet whose gates have all been calibrated (random LightNL
    distance EMAs), i.e. every gate within its active region."""
    torch.manual_seed(seed)
    net = AutoNLSuperNet(tiny_space())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in net.blocks():
            nl = block.non_local
            if nl is not None:
                for ema in (nl.channel_distance_ema, nl.spatial_distance_ema):
                    ema.copy_(torch.rand(ema.shape, generator=generator) *
                              0.5 + 0.01)
    assert net.calibrate_thresholds() == len(net.gates())
    return net


@pytest.mark.parametrize('seed', range(2))
def test_cost_gradient_lowers_macs_through_every_threshold(seed):
    """Every threshold gets a non-zero cost gradient in its active region,
    and raising any threshold lowers the MACs (weight gates switch off,
    distance gates accept a more compact candidate). The old init (every
    threshold at 0, distance EMAs at +inf) left 12 of 33 at exactly 0."""
    net = calibrated_supernet(seed)
    cost_model = SearchCostModel(net, 224, 10)  # 224: stride 2 saves MACs
    torch.log(cost_model(net)).backward()
    grads = {n: p.grad.item() for n, p in net.named_parameters()
             if n.endswith('threshold')}
    assert len(grads) == len(net.gates())
    positive = {n: g for n, g in grads.items() if not g < 0}
    assert not positive


def test_max_macs_is_the_initial_network():
    net = AutoNLSuperNet(tiny_space())
    cost_model = SearchCostModel(net, 224, 1000)
    assert cost_model(net).item() == cost_model.max_macs()
