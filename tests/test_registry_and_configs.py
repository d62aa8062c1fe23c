"""Registration in both scopes, and every shipped config builds."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

import autonl_mmseg  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
OUR_NAMES = ['LightNL', 'WangNonLocal', 'LeviNonLocal', 'Eqn3NonLocal',
             'Eqn5NonLocal', 'Eqn7NonLocal', 'Eqn9NonLocal', 'AutoNLNet',
             'AutoNLSuperNet', 'SearchableLightNL', 'DropoutLinearClsHead']


@pytest.mark.parametrize('scope', ['mmseg', 'mmpretrain'])
def test_names_resolve_in_both_scopes(scope):
    import mmpretrain.registry
    import mmseg.registry
    registry = {'mmseg': mmseg.registry.MODELS,
                'mmpretrain': mmpretrain.registry.MODELS}[scope]
    with DefaultScope.overwrite_default_scope(scope):
        for name in OUR_NAMES:
            assert registry.get(name) is MODELS.get(name), name
        net = registry.build(dict(type='AutoNLNet', genotype='mobilenet-v2'))
        assert type(net).__name__ == 'AutoNLNet'


def test_names_do_not_collide():
    import mmcv.cnn  # noqa: F401  (registers mmcv's bricks)
    import mmpretrain.models  # noqa: F401
    import mmpretrain.registry
    import mmseg.models  # noqa: F401
    import mmseg.registry
    for name in OUR_NAMES:
        assert name not in mmseg.registry.MODELS.module_dict
        assert name not in mmpretrain.registry.MODELS.module_dict
        assert MODELS.get(name).__module__.startswith('autonl_mmseg')


def _configs():
    return sorted(str(p.relative_to(ROOT))
                  for p in (ROOT / 'configs' / 'autonl').rglob('*.py'))


@pytest.mark.parametrize('config', _configs())
def test_config_builds(config, monkeypatch, tmp_path):
    # from outside the repository: shipped genotypes are named, not paths
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(str(ROOT / config))
    scope = cfg.default_scope
    assert scope in ('mmseg', 'mmpretrain')
    # every main config inherits the toolbox's own bases
    text = (ROOT / config).read_text()
    import mmengine.registry
    mmengine.registry.init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 1e5
    assert 'train_dataloader' in cfg and 'optim_wrapper' in cfg, text[:200]


def test_headline_config_is_the_paper_setting():
    cfg = Config.fromfile(str(ROOT / 'configs/autonl/deeplabv3_autonl_voc.py'))
    assert cfg.model.decode_head.type == 'ASPPHead'
    assert cfg.model.decode_head.num_classes == 21
    assert cfg.model.backbone.output_stride == 8
    assert cfg.model.backbone.genotype == 'autonl-s'  # shipped, by name
    assert tuple(cfg.crop_size) == (512, 512)
    # MMSeg's VOC aug data: VOC train + SBD aug
    assert cfg.train_dataloader.dataset.type == 'ConcatDataset'
