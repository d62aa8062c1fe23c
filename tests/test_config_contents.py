"""Every shipped config builds the network its file name names.

A config that inherits a base and then assigns ``model = dict(...)`` twice
silently keeps only the second dict; that once turned both MobileNetV2
baselines into AutoNL-S. These tests build each config and compare the
backbone with the shipped genotype of its name, and count the classifier's
MACs at 224 against the network's Table 3 figure.
"""
import ast
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, init_default_scope

import autonl_mmseg  # noqa: F401
from autonl_mmseg.models.utils.genotype import load_genotype

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py'))
# Table 3 at 224 px, 1000 classes, BN left out (mmengine's count; paper in
# brackets): 300.8M (300M), 315.6M (316M), 266.9M (267M), 352.8M (353M).
TABLE3_MACS = {
    'mobilenet-v2': 300.8e6,
    'mobilenet-v2-lightnl': 315.6e6,
    'autonl-s': 266.9e6,
    'autonl-l': 352.8e6,
}


def named_genotype(config):
    """The shipped genotype a config's file name names, or None (search)."""
    name = Path(config).stem
    if 'search' in name or not config.startswith('configs/autonl/'):
        return None
    for key in ('mobilenet-v2-lightnl', 'mobilenet-v2', 'autonl-l',
                'autonl-s'):
        if key in name:
            return key
    # the headline segmentation configs are AutoNL-S (deeplabv3_autonl_*)
    if name.startswith('deeplabv3_autonl_'):
        return 'autonl-s'
    raise AssertionError(f'{config}: no genotype in its name')


def build(cfg):
    init_default_scope(cfg.default_scope)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def block_rows(backbone):
    """The genotype rows that a built AutoNLNet's modules realise."""
    from autonl_mmseg.models.utils.mbconv import MBConv
    rows = []
    for block in (m for m in backbone.modules() if isinstance(m, MBConv)):
        convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
        depthwise = next(c for c in convs if c.groups > 1
                         and c.groups == c.in_channels)
        non_local = block.non_local
        rows.append(dict(
            in_channels=convs[0].in_channels,
            hidden=depthwise.in_channels,
            out_channels=[c for c in convs if c.groups == 1][-1].out_channels,
            kernel_size=depthwise.kernel_size[0],
            stride=block.stride,
            se=any('SELayer' in type(m).__name__ for m in block.modules()),
            non_local=None if non_local is None else
            (type(non_local).__name__, non_local.channel_ratio,
             non_local.spatial_stride)))
    return rows


def expected_rows(genotype):
    rows, in_channels = [], genotype['stem_channels']
    for block in genotype['blocks']:
        non_local = block['non_local']
        rows.append(dict(
            in_channels=in_channels,
            hidden=int(round(in_channels * block['expand_ratio'])),
            out_channels=block['out_channels'],
            kernel_size=block['kernel_size'],
            stride=block['stride'],
            se=block['se_ratio'] > 0,
            non_local=None if non_local is None else
            (non_local['type'], non_local['channel_ratio'],
             non_local['spatial_stride'])))
        in_channels = block['out_channels']
    return rows


def test_no_config_assigns_a_name_twice():
    """A second top-level assignment silently replaces the first."""
    offenders = []
    for config in CONFIGS:
        seen = {}
        for node in ast.parse((ROOT / config).read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Name):
                    if target.id in seen:
                        offenders.append(f'{config}: {target.id!r} at lines '
                                         f'{seen[target.id]} and '
                                         f'{node.lineno}')
                    seen[target.id] = node.lineno
    assert not offenders, offenders


@pytest.mark.parametrize(
    'config', [c for c in CONFIGS if named_genotype(c) is not None])
def test_config_builds_the_genotype_it_names(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(config)
    model = build(cfg)
    # strides may become dilations in segmentation (output stride 8), so
    # compare against the genotype with those strides folded in
    genotype = load_genotype(named_genotype(config))
    got, want = block_rows(model.backbone), expected_rows(genotype)
    if cfg.default_scope == 'mmseg':
        assert len(got) <= len(want)  # nothing after the last output
        want = want[:len(got)]
        for row in got + want:
            row.pop('stride')
    assert got == want, config


@pytest.mark.parametrize(
    'config', [c for c in CONFIGS if named_genotype(c) is not None
               and Config.fromfile(str(ROOT / c)).default_scope
               == 'mmpretrain'])
def test_classifier_macs_match_table3(config, monkeypatch):
    from mmengine.analysis import FlopAnalyzer
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(config)
    cfg.model.head.num_classes = 1000  # toy configs: count the paper's head
    model = build(cfg).eval()

    class Tensor(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x, mode='tensor')

    analyzer = FlopAnalyzer(Tensor(), (torch.randn(1, 3, 224, 224), ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    macs = sum(v for k, v in analyzer.by_operator().items()
               if k != 'batch_norm')
    paper = TABLE3_MACS[named_genotype(config)]
    assert macs == pytest.approx(paper, rel=5e-4), (config, macs)
