"""The Table 1 rows: one registered class each, identity at init, both
associations, and a ``macs`` rule equal to mmengine's count."""
import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.registry import MODELS

import autonl_mmseg  # noqa: F401  (registers the Table 1 rows)
from autonl_mmseg.models.plugins import (Eqn9NonLocal, LeviNonLocal,
                                         WangNonLocal, dot_product_nonlocal)
from autonl_mmseg.models.utils.complexity import non_local_macs

# Table 1's rows, top to bottom (the last one is LightNL itself)
VARIANTS = ('WangNonLocal', 'LeviNonLocal', 'Eqn3NonLocal', 'Eqn5NonLocal',
            'Eqn7NonLocal', 'Eqn9NonLocal', 'LightNL')
COMPACT = ('Eqn9NonLocal', 'LightNL')  # take channel_ratio, spatial_stride

# Output maps of the 17 inverted-residual blocks of MobileNetV2 at 224x224.
MBV2_BLOCKS = ([(16, 112)] + [(24, 56)] * 2 + [(32, 28)] * 3 +
               [(64, 14)] * 4 + [(96, 14)] * 3 + [(160, 7)] * 3 + [(320, 7)])
# Table 1 of the paper, MACs added by 17 blocks.
TABLE1 = dict(zip(VARIANTS, (6.2e9, 146e6, 119e6, 93e6, 66e6, 38e6, 15e6)))


def build(variant, channels=8, dtype=torch.float32, **kwargs):
    if variant in COMPACT:
        kwargs.setdefault('spatial_stride', 2)
    if variant == 'LightNL' and kwargs.get('norm_cfg', 0) is None:
        kwargs['norm_cfg'] = dict(type='BN')  # LightNL's W_z includes BN
    return MODELS.build(dict(type=variant, in_channels=channels,
                             **kwargs)).to(dtype)


def perturb(block):
    """Make the last transform non-zero so the block is not the identity."""
    for module in block.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.constant_(module.weight, 0.5)
            nn.init.normal_(module.bias)
    if hasattr(block, 'w_z'):
        nn.init.normal_(block.w_z.weight)
    return block


def test_rows_are_registered_plugins():
    from mmcv.cnn import build_plugin_layer
    for variant in VARIANTS:
        name, layer = build_plugin_layer(dict(type=variant), in_channels=16)
        assert type(layer) is MODELS.get(variant)
        assert name in ('nonlocal_block', 'light_nl')
        assert layer.in_channels == 16


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
    wang = perturb(build('WangNonLocal', dtype=torch.float64))
    levi = build('LeviNonLocal', dtype=torch.float64)
    assert isinstance(wang, WangNonLocal) and isinstance(levi, LeviNonLocal)
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


@pytest.mark.parametrize(
    'variant,kwargs', [
        ('Eqn9NonLocal', dict(channel_ratio=0)),
        ('Eqn9NonLocal', dict(channel_ratio=1.5)),
        ('Eqn9NonLocal', dict(spatial_stride=0)),
        ('Eqn3NonLocal', dict(in_channels=0)),
        ('WangNonLocal', dict(matmul_order='softmax')),
    ])
def test_invalid_args(variant, kwargs):
    kwargs.setdefault('in_channels', 8)
    with pytest.raises(ValueError):
        MODELS.get(variant)(**kwargs)


def test_eqn9_compact_features():
    block = Eqn9NonLocal(16, channel_ratio=0.5, spatial_stride=2)
    assert (block.channel_ratio, block.spatial_stride) == (0.5, 2)
    assert not hasattr(block, 'theta') and not hasattr(block, 'g')


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
    args = dict(channel_ratio=0.25, spatial_stride=2) \
        if variant in COMPACT else {}
    expected = non_local_macs(dict(type=variant, **args), channels, height,
                              width)
    assert measured == expected


@pytest.mark.parametrize('variant', VARIANTS)
def test_mobilenet_v2_totals_near_table1(variant):
    def cfg(h):
        if variant not in COMPACT:
            return dict(type=variant)
        return dict(type=variant, channel_ratio=0.25,
                    spatial_stride=2 if h > 14 else 1)

    total = sum(non_local_macs(cfg(h), c, h, h) for c, h in MBV2_BLOCKS)
    # Eqn 9 comes to 36.2M against 38M (see nonlocal_variants.py).
    assert abs(total / TABLE1[variant] - 1) < 0.05
