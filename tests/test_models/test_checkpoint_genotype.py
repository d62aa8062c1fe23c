"""Self-describing weights: the ``architecture`` buffer, the one-line
refusal of weights of another genotype on every loading path, old weights
still loading, and ``GenotypeMetaHook``."""
from types import SimpleNamespace

import pytest
import torch

from autonl_mmseg.models import AutoNLNet
from autonl_mmseg.models.backbones.mbconv_net import (decode_architecture,
                                                      find_architecture)
from autonl_mmseg.models.utils import GenotypeMismatchError, load_genotype


def one_line(excinfo, *needles):
    message = str(excinfo.value)
    assert '\n' not in message, message
    for needle in needles:
        assert needle in message, message
    return message


def classifier(genotype, num_classes=6):
    from mmengine.registry import MODELS
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='AutoNLNet', genotype=genotype),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='DropoutLinearClsHead', num_classes=num_classes,
                  in_channels=1280)))


def test_state_dict_carries_the_genotype():
    net = AutoNLNet(genotype='mobilenet-v2-lightnl')
    state = net.state_dict()
    assert state['architecture'].dtype == torch.uint8
    genotype = decode_architecture(state['architecture'])['genotype']
    expected = load_genotype('mobilenet-v2-lightnl')
    expected.pop('meta', None)
    assert genotype == expected
    # found under any prefix (a classifier's 'backbone.')
    assert find_architecture({f'backbone.{k}': v for k, v in state.items()}
                             ) == {'genotype': expected}
    assert find_architecture({'conv.weight': torch.zeros(1)}) is None


@pytest.mark.parametrize('load', ['torch', 'mmengine', 'torch-non-strict'])
def test_other_genotype_refused_with_one_line(load):
    from mmengine.runner.checkpoint import load_state_dict
    state = AutoNLNet(genotype='autonl-s').state_dict()
    net = AutoNLNet(genotype='mobilenet-v2')
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(GenotypeMismatchError) as excinfo:
        if load == 'mmengine':
            load_state_dict(net, state, strict=False)
        else:
            net.load_state_dict(state, strict=(load == 'torch'))
    one_line(excinfo, "'autonl-s'", "'mobilenet-v2'")
    # nothing was half-loaded: the check runs before the layers load
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_widths_are_part_of_the_genotype():
    state = AutoNLNet(genotype='mobilenet-v2').state_dict()
    with pytest.raises(GenotypeMismatchError) as excinfo:
        AutoNLNet(genotype='mobilenet-v2', widen_factor=0.5).load_state_dict(
            state)
    one_line(excinfo, 'stem_channels 32 vs 16')


def test_same_network_other_name_or_meta_loads():
    genotype = load_genotype('autonl-s')
    renamed = dict(genotype, name='my-search-result', meta=dict(macs=1))
    state = AutoNLNet(genotype=renamed).state_dict()
    net = AutoNLNet(genotype='autonl-s', output_stride=8,
                    out_indices=(1, 2))
    net.load_state_dict(state, strict=False)
    # the buffer keeps describing the network it belongs to
    assert decode_architecture(net.architecture)['genotype']['name'] == \
        'autonl-s'


def test_supernet_weights_into_genotype_network():
    from autonl_mmseg.search import AutoNLSuperNet
    from test_search.helpers import tiny_space
    supernet = AutoNLSuperNet(tiny_space())
    with pytest.raises(GenotypeMismatchError) as excinfo:
        AutoNLNet(genotype='autonl-s').load_state_dict(
            supernet.state_dict(), strict=False)
    one_line(excinfo, 'search supernet', "'autonl-s'", 'export_genotype')
    # and a supernet checkpoint resumes into its own supernet
    AutoNLSuperNet(tiny_space()).load_state_dict(supernet.state_dict())


def test_pretrained_init_refuses_other_genotype(tmp_path):
    """DeepLab's backbone initialised from an ImageNet classifier of
    another genotype (init_cfg=Pretrained, prefix='backbone.')."""
    from mmengine.runner import save_checkpoint
    ckpt = tmp_path / 'mobilenet-v2_cls.pth'
    save_checkpoint(dict(state_dict=classifier('mobilenet-v2').state_dict()),
                    str(ckpt))
    pretrained = dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='backbone.')
    seg = AutoNLNet(genotype='autonl-s', output_stride=8,
                    out_indices=(1, 2, 4, 6), init_cfg=pretrained)
    with pytest.raises(GenotypeMismatchError) as excinfo:
        seg.init_weights()
    one_line(excinfo, "'mobilenet-v2'", "'autonl-s'")
    same = AutoNLNet(genotype='mobilenet-v2', output_stride=8,
                     out_indices=(1, 2, 4, 6), init_cfg=pretrained)
    same.init_weights()  # the matching genotype initialises as before


def test_genotype_meta_hook():
    from autonl_mmseg.engine import GenotypeMetaHook
    model = classifier('mobilenet-v2-lightnl')
    checkpoint = dict(meta=dict(iter=3))
    GenotypeMetaHook().before_save_checkpoint(
        SimpleNamespace(model=model), checkpoint)
    assert checkpoint['meta']['iter'] == 3
    assert checkpoint['meta']['genotype'] == model.backbone.genotype
    assert checkpoint['meta']['genotype']['name'] == 'mobilenet-v2-lightnl'
    # a model without an AutoNLNet is left alone
    checkpoint = dict(meta={})
    GenotypeMetaHook().before_save_checkpoint(
        SimpleNamespace(model=torch.nn.Linear(2, 2)), checkpoint)
    assert checkpoint == dict(meta={})
