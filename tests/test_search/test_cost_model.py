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


def test_cost_model_gradients_reach_every_threshold():
    net = AutoNLSuperNet(tiny_space())
    cost_model = SearchCostModel(net, 64, 10)
    macs = cost_model(net)
    torch.log(macs).backward()
    grads = {n: p.grad for n, p in net.named_parameters()
             if n.endswith('threshold')}
    assert grads and all(g is not None for g in grads.values())
    # at init every gate is on: raising a weight-gate threshold lowers MACs
    kernel = [g for n, g in grads.items() if 'kernel_size' in n]
    assert all(g.item() < 0 for g in kernel)


def test_max_macs_is_the_initial_network():
    net = AutoNLSuperNet()
    cost_model = SearchCostModel(net, 224, 1000)
    assert cost_model(net).item() == cost_model.max_macs()
