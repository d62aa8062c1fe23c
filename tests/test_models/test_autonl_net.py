"""AutoNLNet: shapes, parameter counts, weight transfer, freezing."""
import pytest
import torch

from autonl_mmseg.models import AutoNLNet
from autonl_mmseg.models.utils.complexity import genotype_params
from autonl_mmseg.models.utils.genotype import load_genotype


@pytest.mark.parametrize('name', ['autonl-s', 'autonl-l', 'mobilenet-v2',
                                  'mobilenet-v2-lightnl'])
def test_param_count_equals_hand_count(name):
    net = AutoNLNet(genotype=name)
    n = sum(p.numel() for p in net.parameters())
    assert n == genotype_params(load_genotype(name), num_classes=0)


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
