"""AutoNLNet: shapes, parameter counts, weight transfer, freezing, width
multiplier, and the state-dict keys of checkpoints written before."""
import json

import pytest
import torch

from autonl_mmseg.models import AutoNLNet
from autonl_mmseg.models.utils.complexity import genotype_params


@pytest.mark.parametrize('name', ['autonl-s', 'mobilenet-v2-lightnl'])
def test_state_dict_keys_as_before(name, repo_root):
    """Checkpoints written before the backbone shared its skeleton with the
    supernet (keys and shapes recorded from that code), and before it
    stored its ``architecture``, load strictly."""
    fixture = repo_root / 'tests/fixtures/autonl_net_state_dict_keys.json'
    with open(fixture) as f:
        recorded = json.load(f)[name]
    state = AutoNLNet(genotype=name).state_dict()
    # the one key added since: the genotype the weights belong to
    assert list(state)[0] == 'architecture'
    assert list(state)[1:] == list(recorded)
    assert {k: list(v.shape) for k, v in state.items()
            if k != 'architecture'} == recorded
    old_checkpoint = {k: torch.zeros(shape) for k, shape in recorded.items()}
    AutoNLNet(genotype=name).load_state_dict(old_checkpoint, strict=True)


@pytest.mark.parametrize('widen_factor', [0.5, 0.75, 1.0, 1.4])
def test_params_equal_mmpretrain_mobilenet_v2(widen_factor):
    """genotype_params counts the built network: MMPretrain's MobileNetV2
    classifier at the same width has exactly as many parameters."""
    from mmpretrain.models import MobileNetV2
    ref = MobileNetV2(widen_factor=widen_factor)
    head = 1280 if widen_factor <= 1 else int(1280 * widen_factor)
    expected = sum(p.numel() for p in ref.parameters()) + head * 1000 + 1000
    assert genotype_params('mobilenet-v2', 1000, widen_factor) == expected
    assert genotype_params('mobilenet-v2', 0, widen_factor) == \
        expected - head * 1000 - 1000


def test_param_count_draws_no_random_numbers():
    """The search's hooks count parameters during training: counting must
    not change the random stream of the run (dropout, augmentation)."""
    torch.manual_seed(0)
    state = torch.get_rng_state()
    assert genotype_params('autonl-s') == sum(
        p.numel() for p in AutoNLNet(genotype='autonl-s').parameters()
    ) + 1281 * 1000
    torch.manual_seed(0)
    genotype_params('autonl-l')
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize('widen_factor', [0.5, 0.75, 1.4])
def test_widen_factor_matches_mmpretrain(widen_factor):
    """The width multiplier is MMPretrain's MobileNetV2 rule: its weights
    load strictly into the widened 'mobilenet-v2' genotype and give the
    same outputs; the LightNL variant adds only LightNL parameters."""
    from mmpretrain.models import MobileNetV2
    ref = MobileNetV2(widen_factor=widen_factor)
    ref.eval()
    net = AutoNLNet(genotype='mobilenet-v2', widen_factor=widen_factor)
    net.load_state_dict(ref.state_dict(), strict=True)
    net.eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(net(x)[0], ref(x)[0])
    lightnl = AutoNLNet(genotype='mobilenet-v2-lightnl',
                        widen_factor=widen_factor)
    result = lightnl.load_state_dict(ref.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all('.light_nl.' in k for k in result.missing_keys)
    assert lightnl.out_channels[-1] == net.out_channels[-1] == (
        int(1280 * widen_factor) if widen_factor > 1 else 1280)


def test_bad_widen_factor():
    with pytest.raises(ValueError, match='widen_factor'):
        AutoNLNet(genotype='mobilenet-v2', widen_factor=0)


def test_classification_output_and_lightnl_identity():
    net = AutoNLNet(genotype='autonl-s')
    net.init_weights()
    net.eval()
    out = net(torch.randn(1, 3, 64, 48))
    assert len(out) == 1 and out[0].shape == (1, 1280, 2, 2)
    # LightNL blocks start as the identity (zero BN gamma), also after the
    # backbone's Constant(1) BN init.
    nls = [m.light_nl for m in net.modules() if getattr(m, 'light_nl', None)]
    assert len(nls) == 7
    assert all(torch.all(nl.norm.weight == 0) for nl in nls)


@pytest.mark.parametrize('output_stride,sizes', [(8, [8, 4, 4, 4]),
                                                 (16, [8, 4, 2, 2]),
                                                 (32, [8, 4, 2, 1])])
def test_segmentation_outputs(output_stride, sizes):
    # 32x32 input: stages 1/2/4/6 are at strides 4, 8, 16, 32 by default
    net = AutoNLNet(genotype='autonl-s', output_stride=output_stride,
                    out_indices=(1, 2, 4, 6))
    net.eval()
    outs = net(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [24, 40, 96, 320]
    assert [o.shape[-1] for o in outs] == sizes


def test_output_stride_8_spatial_size():
    net = AutoNLNet(genotype='mobilenet-v2', output_stride=8,
                    out_indices=(1, 2, 4, 6))
    net.eval()
    outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16), (8, 8), (8, 8),
                                                   (8, 8)]


def test_frozen_stages_and_norm_eval():
    net = AutoNLNet(genotype='autonl-s', frozen_stages=2, norm_eval=True)
    net.train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layer2.parameters())
    assert all(p.requires_grad for p in net.layer3.parameters())
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(not bn.training for bn in bns)


def test_bad_arguments():
    with pytest.raises(ValueError, match='output_stride'):
        AutoNLNet(genotype='autonl-s', output_stride=4)
    with pytest.raises(ValueError, match='out_indices'):
        AutoNLNet(genotype='autonl-s', out_indices=(9, ))


def test_mmpretrain_mobilenet_v2_checkpoint_loads():
    """MMPretrain's MobileNetV2 weights load into ours; for the LightNL
    variant only the LightNL parameters are missing."""
    from mmpretrain.models import MobileNetV2
    ref = MobileNetV2(widen_factor=1.0).state_dict()
    plain = AutoNLNet(genotype='mobilenet-v2')
    assert plain.load_state_dict(ref, strict=True)
    lightnl = AutoNLNet(genotype='mobilenet-v2-lightnl')
    result = lightnl.load_state_dict(ref, strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all('.light_nl.' in k
                                       for k in result.missing_keys)
    # same function as MMPretrain's network at init (LightNL = identity)
    ref_net = MobileNetV2(widen_factor=1.0)
    ref_net.eval()  # (MMPretrain's train() returns None)
    lightnl.load_state_dict(ref_net.state_dict(), strict=False)
    for nl in (m.light_nl for m in lightnl.modules()
               if getattr(m, 'light_nl', None)):
        assert torch.all(nl.norm.weight == 0)
    lightnl.eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(lightnl(x)[0], ref_net(x)[0])


def test_classification_checkpoint_into_segmentation_backbone(tmp_path):
    """A classifier checkpoint ('backbone.' prefix) initialises the DeepLab
    backbone through init_cfg=Pretrained(prefix='backbone.')."""
    from mmengine.registry import MODELS
    from mmengine.runner import save_checkpoint
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    classifier = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='AutoNLNet', genotype='autonl-s'),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='DropoutLinearClsHead', num_classes=10,
                  in_channels=1280)))
    with torch.no_grad():
        for p in classifier.parameters():
            p.uniform_(-1, 1)
    ckpt = tmp_path / 'cls.pth'
    save_checkpoint(dict(state_dict=classifier.state_dict()), str(ckpt))
    seg = AutoNLNet(genotype='autonl-s', output_stride=8,
                    out_indices=(1, 2, 4, 6),
                    init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                                  prefix='backbone.'))
    seg.init_weights()
    src = classifier.backbone.state_dict()
    for key, value in seg.state_dict().items():
        torch.testing.assert_close(value, src[key], msg=key)


def test_pretrained_without_checkpoint_uses_default_init():
    net = AutoNLNet(genotype='autonl-s',
                    init_cfg=dict(type='Pretrained', checkpoint=None))
    assert net.init_cfg == AutoNLNet.default_init_cfg
