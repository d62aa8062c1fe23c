"""AutoNLSuperNet: the search space, the superkernel encoding and decode()."""
import math
import random

import pytest
import torch

from autonl_mmseg.models.backbones import AutoNLNet
from autonl_mmseg.models.utils.complexity import genotype_macs
from autonl_mmseg.models.utils.genotype import (load_genotype,
                                                stage_boundaries)
from autonl_mmseg.models.utils.mbconv import MBConv
from autonl_mmseg.search import (AutoNLSuperNet, SearchableMBConv,
                                 SearchSpaceError, build_search_space)

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
    # SE ratio searched everywhere but in the fixed first block
    assert blocks[0]['se_ratios'] == (0, )
    assert all(b['se_ratios'] == (0, 0.25, 0.5) for b in blocks[1:])
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
    dict(se_ratios=(0, 1.5)),
    dict(stages=[dict(out_channels=16, num_blocks=1, stride=1, se_ratio=0,
                      se_ratios=(0, 0.25))]),
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
    assert all(b['se_ratio'] == 0.5 for b in genotype['blocks'][1:])
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
    if mbconv.se is not None:
        se, src = mbconv.se, block.se
        squeeze = se.conv1.conv.out_channels
        se.conv1.conv.weight.data.copy_(
            src.conv1.conv.weight.data[:squeeze, :hidden])
        se.conv1.conv.bias.data.copy_(src.conv1.conv.bias.data[:squeeze])
        se.conv2.conv.weight.data.copy_(
            src.conv2.conv.weight.data[:hidden, :squeeze])
        se.conv2.conv.bias.data.copy_(src.conv2.conv.bias.data[:hidden])
    mbconv.project_conv.conv.weight.data.copy_(
        block.project_conv.conv.weight.data[:, :hidden])
    copy_bn(mbconv.project_conv.bn, block.project_conv.bn)
    if mbconv.non_local is not None:
        mbconv.non_local.depthwise_conv.weight.data.copy_(
            block.non_local.depthwise_conv.weight.data)
        copy_bn(mbconv.non_local.norm, block.non_local.norm)


@pytest.mark.parametrize('seed', range(9))
def test_superkernel_equals_decoded_block(seed):
    """In eval mode a superkernel block with a hard state computes exactly
    the decoded MBConv (inner 3x3 = k3, first half = e3, the first squeeze
    channels of the chosen SE ratio on the used channels or no SE, the
    chosen LightNL), or the identity when skipped."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    block = SearchableMBConv(
        16, 16, 1, se_ratios=(0, 0.25, 0.5) if seed % 3 else 0.25,
        skippable=True,
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


def set_choices(net, genotype):
    """Set the supernet's gates so that it decodes ``genotype``: the
    genotype's blocks fill each stage from its first block, the rest of
    the stage is skipped."""
    from .helpers import OFF, ON
    stages = stage_boundaries(genotype['blocks'])
    with torch.no_grad():
        for stage, ids in zip(net.stages(), stages):
            for i, block in enumerate(stage):
                if i >= len(ids):
                    block.dims['keep'].gate.threshold.fill_(OFF)
                    continue
                if 'keep' in block.dims:
                    block.dims['keep'].gate.threshold.fill_(ON)
                entry = genotype['blocks'][ids[i]]
                for name, dim in block.dims.items():
                    if dim.field is None:
                        continue
                    index = dim.candidates.index(entry[dim.field])
                    for j, gate in enumerate(dim.gates, start=1):
                        gate.threshold.fill_(ON if j <= index else OFF)
                nl, wanted = block.non_local, entry['non_local']
                if nl is None:
                    assert wanted is None
                    continue
                nl.dims['insert'].gate.threshold.fill_(
                    ON if wanted else OFF)
                if not wanted:
                    continue
                nl.num_ema_updates.fill_(1)
                for field, ema in (('channel_ratio', nl.channel_distance_ema),
                                   ('spatial_stride',
                                    nl.spatial_distance_ema)):
                    dim = nl.dims[field]
                    index = dim.candidates.index(wanted[field])
                    # only the wanted candidate is under the threshold
                    ema.fill_(1.0)
                    ema[index] = 1e-3
                    dim.gate.threshold.fill_(math.log(1e-2))


@pytest.mark.parametrize('name', ['autonl-s', 'autonl-l'])
def test_published_networks_are_points_of_the_default_space(name):
    """AutoNL-S and AutoNL-L (SE 0 / 0.25 / 0.5, LightNL ratios 0.25 and
    0.125, strides 1 and 2, 18 and 21 blocks) are decoded by the default
    space's supernet, and its cost model gives their MACs."""
    from autonl_mmseg.search import SearchCostModel
    genotype = load_genotype(name)
    net = AutoNLSuperNet()
    set_choices(net, genotype)
    decoded = net.decode()
    assert decoded['blocks'] == genotype['blocks']
    cost_model = SearchCostModel(net, 224, 1000)
    assert cost_model(net).item() == genotype_macs(genotype)['total']


def test_searched_se_is_an_axis_of_the_cost_tables():
    """A dimension of a block (here the SE ratio) is an axis of its MACs
    table, with no change in the cost model."""
    from autonl_mmseg.search import SearchCostModel
    net = AutoNLSuperNet(tiny_space())
    cost_model = SearchCostModel(net, 64, 10)
    for block, entry in zip(net.blocks(), cost_model.blocks):
        names = [name for name, _ in entry['axes']]
        assert names == [n for n in ('kernel_size', 'expand_ratio',
                                     'se_ratio') if n in block.dims]
        assert entry['table'].dim() == len(names)
    assert any(e['table'].dim() == 3 for e in cost_model.blocks)
