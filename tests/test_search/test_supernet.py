"""AutoNLSuperNet: the search space, the superkernel encoding and decode()."""
import random

import pytest
import torch

from autonl_mmseg.models.backbones import AutoNLNet
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
    assert all(b['light_nl'] == dict(channel_ratio=0.5, spatial_stride=1)
               for b in genotype['blocks'][1:])
    assert genotype['blocks'][0]['light_nl'] is None


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
    """Copy the superkernel's chosen part into a plain MBConv."""
    k_max = block.kernel_sizes[-1]
    lo = (k_max - kernel) // 2
    layers = list(mbconv.conv)
    i = 0

    def copy_bn(dst, src, n=None):
        n = n or dst.num_features
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            getattr(dst, name).data.copy_(getattr(src, name).data[:n])

    if block.expand_conv is not None:
        layers[0].conv.weight.data.copy_(
            block.expand_conv.conv.weight.data[:hidden])
        copy_bn(layers[0].bn, block.expand_conv.bn, hidden)
        i = 1
    layers[i].conv.weight.data.copy_(
        block.depthwise_conv.weight.data[:hidden, :, lo:lo + kernel,
                                         lo:lo + kernel])
    copy_bn(layers[i].bn, block.depthwise_norm, hidden)
    i += 1
    if block.se is not None:
        se = layers[i]
        se.conv1.conv.weight.data.copy_(
            block.se.conv1.conv.weight.data[:, :hidden])
        se.conv1.conv.bias.data.copy_(block.se.conv1.conv.bias.data)
        se.conv2.conv.weight.data.copy_(
            block.se.conv2.conv.weight.data[:hidden])
        se.conv2.conv.bias.data.copy_(block.se.conv2.conv.bias.data[:hidden])
        i += 1
    layers[i].conv.weight.data.copy_(
        block.project_conv.conv.weight.data[:, :hidden])
    copy_bn(layers[i].bn, block.project_conv.bn)
    if mbconv.light_nl is not None:
        mbconv.light_nl.depthwise_conv.weight.data.copy_(
            block.light_nl.depthwise_conv.weight.data)
        copy_bn(mbconv.light_nl.norm, block.light_nl.norm)


@pytest.mark.parametrize('seed', range(6))
def test_superkernel_equals_decoded_block(seed):
    """In eval mode a superkernel block with a hard state computes exactly
    the decoded MBConv (inner 3x3 = k3, first half = e3, SE on the used
    channels, the chosen LightNL), or the identity when skipped."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    block = SearchableMBConv(
        16, 16, 1, se_ratio=0.25 if seed % 2 else 0, skippable=True,
        light_nl=dict(channel_ratios=(0.125, 0.25, 0.5),
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
                    light_nl=decoded['light_nl'],
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
