import pytest
import torch
import torch.nn as nn

import autonl_mmseg  # noqa: F401  (registers LightNL)
from autonl_mmseg.models.plugins import (LightNL, light_nl_macs, matmul_macs,
                                         non_local_aggregate)


def naive_aggregate(x, channel_ratio, spatial_stride):
    """Eqn 9 with the HW x HW' affinity materialised, as in the paper."""
    n, c, h, w = x.shape
    k = max(1, int(channel_ratio * c))
    x_s = x[:, :, ::spatial_stride, ::spatial_stride].flatten(2)  # (N, C, HW')
    x_c = x.flatten(2)[:, :k]  # (N, k, HW)
    x_sc = x_s[:, :k]  # (N, k, HW')
    affinity = torch.einsum('nki,nkj->nij', x_c, x_sc)  # (N, HW, HW')
    y = torch.einsum('nij,ncj->nci', affinity, x_s)  # (N, C, HW)
    return (y / (h * w)).view(n, c, h, w)


def perturbed(module, gamma=0.5):
    nn.init.constant_(module.norm.weight, gamma)
    nn.init.normal_(module.norm.bias)
    return module


@pytest.mark.parametrize('shape', [(2, 12, 7, 9), (1, 8, 13, 5)])
@pytest.mark.parametrize('spatial_stride', [1, 2, 3])
@pytest.mark.parametrize('channel_ratio', [0.1, 0.25, 0.5, 1.0])
def test_orders_match_naive_reference(shape, spatial_stride, channel_ratio):
    x = torch.randn(*shape, dtype=torch.float64)
    ref = naive_aggregate(x, channel_ratio, spatial_stride)
    for order in ('affinity', 'gram', 'auto'):
        y = non_local_aggregate(x, channel_ratio, spatial_stride, order)
        assert y.shape == x.shape
        torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-12)


def test_invalid_order():
    with pytest.raises(ValueError):
        non_local_aggregate(torch.randn(1, 4, 3, 3), 0.5, 1, 'softmax')


def test_matmul_macs_formulas():
    # 7x9 map, s=2 -> 4x5 context positions; k = int(0.25 * 12) = 3.
    affinity, gram = matmul_macs(12, 7, 9, 0.25, 2)
    assert affinity == 63 * 20 * (3 + 12)
    assert gram == (63 + 20) * 12 * 3
    assert light_nl_macs(12, 7, 9, 0.25, 2) == min(affinity,
                                                   gram) + 9 * 12 * 63


def _first_bmm_shapes(monkeypatch, x, channel_ratio=0.25, spatial_stride=1):
    shapes = []
    real_bmm = torch.bmm

    def recording_bmm(a, b):
        out = real_bmm(a, b)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(torch, 'bmm', recording_bmm)
    non_local_aggregate(x, channel_ratio, spatial_stride, 'auto')
    monkeypatch.undo()
    return shapes[0]


def test_auto_picks_cheaper_order(monkeypatch):
    # Affinity cost grows with (HW)^2 and Gram cost with C^2, so a large map
    # with few channels takes the Gram order and a small map with many
    # channels the affinity order.
    affinity, gram = matmul_macs(16, 65, 65, 0.25, 1)
    assert gram < affinity
    x = torch.randn(1, 16, 65, 65)
    assert _first_bmm_shapes(monkeypatch, x) == (1, 16, 4)  # (C, k) Gram

    affinity, gram = matmul_macs(320, 7, 7, 0.25, 1)
    assert affinity < gram
    x = torch.randn(1, 320, 7, 7)
    assert _first_bmm_shapes(monkeypatch, x) == (1, 49, 49)  # (HW', HW)


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_identity_at_init(mode):
    block = LightNL(16, channel_ratio=0.25, spatial_stride=2)
    block.train(mode == 'train')
    x = torch.randn(2, 16, 9, 7)
    assert torch.equal(block(x), x)
    # init_weights (e.g. after a parent's Constant BN init) keeps it so.
    nn.init.constant_(block.norm.weight, 1.0)
    block.init_weights()
    assert torch.equal(block(x), x)


def test_perturbed_gamma_changes_output():
    block = perturbed(LightNL(16)).eval()
    x = torch.randn(2, 16, 6, 6)
    assert not torch.allclose(block(x), x)


def test_gradients_reach_everything():
    block = perturbed(LightNL(16, spatial_stride=2)).train()
    x = torch.randn(2, 16, 7, 9, requires_grad=True)
    (block(x) * torch.randn(2, 16, 7, 9)).sum().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_batch_one(mode):
    block = perturbed(LightNL(8, spatial_stride=2))
    block.train(mode == 'train')
    x = torch.randn(1, 8, 5, 6)
    assert block(x).shape == x.shape


def test_jit_trace():
    block = perturbed(LightNL(16, channel_ratio=0.5, spatial_stride=2)).eval()
    x = torch.randn(2, 16, 7, 9)
    traced = torch.jit.trace(block, x)
    torch.testing.assert_close(traced(x), block(x))
    x2 = torch.randn(2, 16, 7, 9)
    torch.testing.assert_close(traced(x2), block(x2))


@pytest.mark.parametrize(
    'kwargs', [
        dict(in_channels=16, channel_ratio=0),
        dict(in_channels=16, channel_ratio=1.5),
        dict(in_channels=16, channel_ratio=-0.25),
        dict(in_channels=16, spatial_stride=0),
        dict(in_channels=0),
        dict(in_channels=-8),
        dict(in_channels=16, matmul_order='softmax'),
    ])
def test_invalid_args(kwargs):
    with pytest.raises(ValueError):
        LightNL(**kwargs)


def test_mmcv_plugin():
    from mmcv.cnn import build_plugin_layer
    name, layer = build_plugin_layer(
        dict(type='LightNL', channel_ratio=0.25), in_channels=64)
    assert name == 'light_nl'
    assert isinstance(layer, LightNL)
    assert layer.in_channels == 64


def test_mmseg_resnet_plugin_identity_at_init():
    from mmseg.registry import MODELS
    # MMSeg's BasicBlock has no plugin support, so use a (slim) Bottleneck
    # ResNet; 'after_conv3' plugins see planes * 4 channels.
    cfg = dict(
        type='mmseg.ResNetV1c',  # explicit scope: the default may be mmpretrain
        depth=50,
        stem_channels=16,
        base_channels=16,
        out_indices=(0, 1, 2, 3))
    plugin = dict(
        cfg=dict(type='LightNL', channel_ratio=0.25, spatial_stride=2),
        stages=(False, True, True, True),
        position='after_conv3')
    torch.manual_seed(0)
    plain = MODELS.build(cfg)
    plain.init_weights()
    plugged = MODELS.build(dict(cfg, plugins=[plugin]))
    plugged.init_weights()  # Constant(1) on every BN, then LightNL re-zeros

    light_nls = [m for m in plugged.modules() if isinstance(m, LightNL)]
    assert len(light_nls) == 4 + 6 + 3  # stages 2-4 of ResNet-50
    assert all(m.norm.weight.abs().sum() == 0 for m in light_nls)
    assert plugged.layer2[0].light_nl.in_channels == 128

    missing, unexpected = plugged.load_state_dict(
        plain.state_dict(), strict=False)
    assert not unexpected
    assert missing and all('light_nl' in key for key in missing)

    x = torch.randn(2, 3, 64, 64)
    for mode in (False, True):
        plain.train(mode)
        plugged.train(mode)
        with torch.no_grad():
            for a, b in zip(plain(x), plugged(x)):
                assert torch.equal(a, b)
