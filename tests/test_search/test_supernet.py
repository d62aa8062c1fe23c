"""AutoNLSuperNet: the search space, the superkernel encoding and decode()."""
import random

import pytest
import torch

from autonl_mmseg.models.backbones import AutoNLNet
from autonl_mmseg.models.utils.complexity import genotype_macs
from autonl_mmseg.models.utils.genotype import (load_genotype,
                                                stage_boundaries)
from autonl_mmseg.models.utils.mbconv import MBConv
from autonl_mmseg.search import (AutoNLSuperNet, SearchableMBConv,
                                 SearchDimension, SearchSpaceError,
                                 ThresholdGate, build_search_space)

from .helpers import randomise_state, tiny_space


def test_default_space():
    space = build_search_space()
    blocks = space['blocks']
    assert len(blocks) == 22 and space['num_stages'] == 7
    assert [b['out_channels'] for b in blocks if b['stride'] == 2] == [
        24, 40, 80, 192
    ]
    assert not blocks[0]['skippable'] and blocks[0]['light_nl'] is None
    assert blocks[0]['expand_ratios'] == (1, )
    assert blocks[-1]['out_channels'] == 320 and not blocks[-1]['skippable']
    assert blocks[-1]['kernel_sizes'] == (3, 5)
    assert blocks[-1]['expand_ratios'] == (3, 6)
    # only non-first blocks of a stage are skippable
    first = {b['stage']: i for i, b in reversed(list(enumerate(blocks)))}
    for i, b in enumerate(blocks):
        assert b['skippable'] == (i != first[b['stage']])
    assert space['light_nl'] == dict(channel_ratios=(0.125, 0.25, 0.5),
                                     spatial_strides=(2, 1))


@pytest.mark.parametrize('bad', [
    dict(unknown=1),
    dict(light_nl=dict(channel_ratios=(0.25, ), spatial_strides=(2, ))),
    dict(stages=[dict(out_channels=16, num_blocks=1, stride=1),
                 dict(out_channels=16, num_blocks=2, stride=1)]),
    dict(expand_ratios=(1, 6)),
    dict(kernel_sizes=(3, 4)),
])
def test_bad_space(bad):
    with pytest.raises(SearchSpaceError):
        build_search_space(bad)


def test_decode_largest_network_at_init():
    net = AutoNLSuperNet()
    genotype = net.decode()
    assert len(genotype['blocks']) == 22
    assert all(b['kernel_size'] == 5 for b in genotype['blocks'][1:])
    assert all(b['expand_ratio'] == 6 for b in genotype['blocks'][1:])
    assert all(b['non_local'] == dict(type='LightNL', channel_ratio=0.5,
                                      spatial_stride=1)
               for b in genotype['blocks'][1:])
    assert genotype['blocks'][0]['non_local'] is None


@pytest.mark.parametrize('seed', range(4))
def test_decoded_genotype_builds_with_seven_stages(seed):
    net = AutoNLSuperNet()
    randomise_state(net, random.Random(seed), skip_probability=0.9)
    genotype = net.decode()
    load_genotype(genotype)
    assert len(stage_boundaries(genotype['blocks'])) == 7
    backbone = AutoNLNet(genotype, out_indices=(1, 2, 4, 6),
                         output_stride=8)
    outs = backbone(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [24, 40, 96, 320]


def _transfer(block, mbconv, kernel, hidden):
    """Copy the superkernel's chosen part into a plain MBConv (both have
    MBConv's layout; the superkernel's is the largest)."""
    k_max = block.kernel_sizes[-1]
    lo = (k_max - kernel) // 2

    def copy_bn(dst, src, n=None):
        n = n or dst.num_features
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            getattr(dst, name).data.copy_(getattr(src, name).data[:n])

    if block.expand_conv is not None:
        mbconv.expand_conv.conv.weight.data.copy_(
            block.expand_conv.conv.weight.data[:hidden])
        copy_bn(mbconv.expand_conv.bn, block.expand_conv.bn, hidden)
    mbconv.depthwise_conv.conv.weight.data.copy_(
        block.depthwise_conv.conv.weight.data[:hidden, :, lo:lo + kernel,
                                              lo:lo + kernel])
    copy_bn(mbconv.depthwise_conv.bn, block.depthwise_conv.bn, hidden)
    if block.se is not None:
        se, src = mbconv.se, block.se
        se.conv1.conv.weight.data.copy_(src.conv1.conv.weight.data[:, :hidden])
        se.conv1.conv.bias.data.copy_(src.conv1.conv.bias.data)
        se.conv2.conv.weight.data.copy_(src.conv2.conv.weight.data[:hidden])
        se.conv2.conv.bias.data.copy_(src.conv2.conv.bias.data[:hidden])
    mbconv.project_conv.conv.weight.data.copy_(
        block.project_conv.conv.weight.data[:, :hidden])
    copy_bn(mbconv.project_conv.bn, block.project_conv.bn)
    if mbconv.non_local is not None:
        mbconv.non_local.depthwise_conv.weight.data.copy_(
            block.non_local.depthwise_conv.weight.data)
        copy_bn(mbconv.non_local.norm, block.non_local.norm)


@pytest.mark.parametrize('seed', range(6))
def test_superkernel_equals_decoded_block(seed):
    """In eval mode a superkernel block with a hard state computes exactly
    the decoded MBConv (inner 3x3 = k3, first half = e3, SE on the used
    channels, the chosen LightNL), or the identity when skipped."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    block = SearchableMBConv(
        16, 16, 1, se_ratio=0.25 if seed % 2 else 0, skippable=True,
        non_local=dict(type='SearchableLightNL',
                       channel_ratios=(0.125, 0.25, 0.5),
                       spatial_strides=(2, 1)),
        act_cfg=dict(type='Swish')).double()
    for m in block.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for name in ('weight', 'bias', 'running_mean'):
                torch.nn.init.normal_(getattr(m, name), std=0.5)
            m.running_var.uniform_(0.5, 2)
    holder = torch.nn.Sequential(block)
    randomise_state(holder, rng, skip_probability=0.3 if seed < 3 else 0.)
    block.eval()
    x = torch.randn(2, 16, 9, 9, dtype=torch.float64)
    decoded = block.decode()
    if decoded is None:
        assert torch.equal(block(x), x)
        return
    mbconv = MBConv(16, 16, 1, decoded['expand_ratio'],
                    decoded['kernel_size'], se_ratio=decoded['se_ratio'],
                    non_local=decoded['non_local'],
                    act_cfg=dict(type='Swish')).double().eval()
    _transfer(block, mbconv, decoded['kernel_size'],
              int(round(16 * decoded['expand_ratio'])))
    torch.testing.assert_close(block(x), mbconv(x))


def test_supernet_forward_and_outputs():
    net = AutoNLSuperNet(tiny_space(), out_indices=(0, 1, 2, -1))
    net.init_weights()
    outs = net(torch.randn(2, 3, 32, 32))
    assert [o.shape[1] for o in outs] == net.out_channels[:3] + [64]
    # every threshold takes part in the graph
    sum(o.mean() for o in outs).backward()
    for name, param in net.named_parameters():
        if name.endswith('threshold'):
            assert param.grad is not None, name


def test_init_weights_through_mmengine():
    """MMEngine's init recursion reaches every block: after the classifier's
    init_weights the backbone's Constant(1) BN init holds everywhere except
    in the LightNL blocks, whose own init_weights restored their zero BN."""
    from mmengine.registry import MODELS
    from autonl_mmseg.search import SearchableLightNL
    model = MODELS.build(dict(
        type='AutoNLSearchClassifier',
        backbone=dict(type='AutoNLSuperNet', search_space=tiny_space()),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=64)))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(0.5)
    model.init_weights()
    light_nls = [m for m in model.modules()
                 if isinstance(m, SearchableLightNL)]
    assert light_nls
    for m in light_nls:
        assert torch.all(m.norm.weight == 0) and torch.all(m.norm.bias == 0)
    others = [m for m in model.modules()
              if isinstance(m, torch.nn.BatchNorm2d)
              and not any(m is nl.norm for nl in light_nls)]
    assert others and all(torch.all(m.weight == 1) for m in others)


class SERatio(SearchDimension):
    """A searched SE ratio, as a future dimension would add it (decode and
    MACs only; the forward pass does not apply it here)."""

    field = 'se_ratio'

    def __init__(self):
        super().__init__((0, 0.25))
        self.gate = ThresholdGate()

    def forward(self, state):
        on = self.gate(state['depthwise_weight'].pow(2).mean())
        return torch.stack([1 - on, on])


@pytest.mark.parametrize('seed', range(3))
def test_new_dimension_is_one_class(seed):
    """A dimension added to the blocks is decoded into its genotype field
    and becomes an axis of the cost model's tables, with no other change."""
    from autonl_mmseg.search import SearchCostModel
    net = AutoNLSuperNet(tiny_space())
    rng = random.Random(seed)
    randomise_state(net, rng, skip_probability=0.3)
    for block in net.blocks():
        block.dims['se_ratio'] = SERatio()
        block.dims['se_ratio'].gate.threshold.data.fill_(
            rng.choice([-1., 10.]))
    genotype = net.decode()
    assert {b['se_ratio'] for b in genotype['blocks']} <= {0, 0.25}
    cost_model = SearchCostModel(net, 64, 10)
    assert all(b['table'].dim() == 3 for b in cost_model.blocks)
    assert cost_model(net).item() == genotype_macs(genotype, (64, 64),
                                                   10)['total']
