import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.registry import MODELS

import autonl_mmseg  # noqa: F401  (registers NonLocalVariant)
from autonl_mmseg.models.plugins import (LightNL, NonLocalVariant,
                                         dot_product_nonlocal,
                                         nonlocal_variant_macs)
from autonl_mmseg.models.plugins.nonlocal_variants import VARIANTS

# Output maps of the 17 inverted-residual blocks of MobileNetV2 at 224x224.
MBV2_BLOCKS = ([(16, 112)] + [(24, 56)] * 2 + [(32, 28)] * 3 +
               [(64, 14)] * 4 + [(96, 14)] * 3 + [(160, 7)] * 3 + [(320, 7)])
# Table 1 of the paper, MACs added by 17 blocks.
TABLE1 = dict(
    wang=6.2e9,
    levi=146e6,
    eqn3=119e6,
    eqn5=93e6,
    eqn7=66e6,
    eqn9=38e6,
    lightnl=15e6)


def build(variant, channels=8, dtype=torch.float32, **kwargs):
    kwargs.setdefault('spatial_stride', 2)
    return NonLocalVariant(channels, variant=variant, **kwargs).to(dtype)


def perturb(block):
    """Make the last transform non-zero so the block is not the identity."""
    for module in block.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.constant_(module.weight, 0.5)
            nn.init.normal_(module.bias)
    if hasattr(block, 'w_z'):
        nn.init.normal_(block.w_z.weight)
    return block


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('norm_cfg', [None, dict(type='BN')])
def test_shape_and_identity_at_init(variant, norm_cfg):
    block = build(variant, norm_cfg=norm_cfg)
    x = torch.randn(2, 8, 5, 7)
    for mode in (True, False):
        block.train(mode)
        out = block(x)
        assert out.shape == x.shape
        assert torch.equal(out, x)
    block.init_weights()
    assert torch.equal(block(x), x)
    perturb(block).eval()
    assert not torch.allclose(block(x), x)


@pytest.mark.parametrize('variant', VARIANTS)
def test_associations_agree(variant):
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    outs = []
    for order in ('affinity', 'gram', 'auto'):
        block = build(variant, dtype=torch.float64, matmul_order=order)
        if outs:
            block.load_state_dict(reference_state)
        else:
            reference_state = perturb(block).state_dict()
        outs.append(block.eval()(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(outs[0], outs[2], rtol=1e-10, atol=1e-12)


def test_wang_is_levi_with_explicit_affinity(monkeypatch):
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    wang = perturb(build('wang', dtype=torch.float64))
    levi = build('levi', dtype=torch.float64)
    levi.load_state_dict(wang.state_dict())
    torch.testing.assert_close(wang(x), levi(x))

    shapes = []
    real_bmm = torch.bmm
    monkeypatch.setattr(
        torch, 'bmm', lambda a, b: shapes.append(
            (a.shape[1], b.shape[2])) or real_bmm(a, b))
    wang(x)
    assert shapes[0] == (36, 36)  # the HW x HW affinity, although C < HW
    shapes.clear()
    levi(x)
    assert shapes[0] == (8, 8)  # the cheaper C x C Gram matrix


def test_dot_product_nonlocal_reference():
    q = torch.randn(2, 3, 10, dtype=torch.float64)
    k = torch.randn(2, 3, 4, dtype=torch.float64)
    v = torch.randn(2, 5, 4, dtype=torch.float64)
    ref = torch.einsum('nci,ncj,ndj->ndi', q, k, v) / 10
    for order in ('affinity', 'gram', 'auto'):
        torch.testing.assert_close(dot_product_nonlocal(q, k, v, order), ref)
    with pytest.raises(ValueError):
        dot_product_nonlocal(q, k, v, 'softmax')


def test_lightnl_variant_delegates():
    block = build('lightnl', channel_ratio=0.5)
    assert isinstance(block.light_nl, LightNL)
    assert block.light_nl.channel_ratio == 0.5
    assert block.light_nl.spatial_stride == 2


@pytest.mark.parametrize(
    'kwargs', [
        dict(variant='nonlocal2d'),
        dict(channel_ratio=0),
        dict(channel_ratio=1.5),
        dict(spatial_stride=0),
        dict(in_channels=0),
        dict(matmul_order='softmax'),
    ])
def test_invalid_args(kwargs):
    kwargs.setdefault('in_channels', 8)
    with pytest.raises(ValueError):
        NonLocalVariant(**kwargs)
    if 'variant' in kwargs:
        with pytest.raises(ValueError):
            nonlocal_variant_macs(kwargs['variant'], 8, 4, 4)


def test_registry_and_plugin():
    block = MODELS.build(
        dict(type='NonLocalVariant', in_channels=8, variant='eqn3'))
    assert isinstance(block, NonLocalVariant)
    from mmcv.cnn import build_plugin_layer
    name, layer = build_plugin_layer(
        dict(type='NonLocalVariant', variant='eqn5'), in_channels=16)
    assert name == 'nl_variant'
    assert layer.variant == 'eqn5'


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('shape', [(16, 10, 10), (8, 6, 9)])
def test_macs_match_mmengine(variant, shape):
    channels, height, width = shape
    block = build(variant, channels, norm_cfg=dict(type='BN')).eval()
    analyzer = FlopAnalyzer(block, torch.randn(1, channels, height, width))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_operator = analyzer.by_operator()
    # mmengine counts an eval-mode BN as 2 * numel; the paper counts nothing.
    assert by_operator.get('batch_norm', 0) == 2 * channels * height * width
    assert set(by_operator) <= {'conv', 'bmm', 'batch_norm'}
    measured = analyzer.total() - by_operator.get('batch_norm', 0)
    expected = nonlocal_variant_macs(variant, channels, height, width, 0.25,
                                     2)
    assert measured == expected


@pytest.mark.parametrize('variant', VARIANTS)
def test_mobilenet_v2_totals_near_table1(variant):
    total = sum(
        nonlocal_variant_macs(variant, c, h, h, 0.25, 2 if h > 14 else 1)
        for c, h in MBV2_BLOCKS)
    # 'eqn9' comes to 36.2M against 38M (see the NonLocalVariant docstring).
    assert abs(total / TABLE1[variant] - 1) < 0.05
