# Copyright (c) autonl_mmseg contributors.
"""Count parameters and MACs with ``mmengine.analysis``.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
    python tools/analysis_tools/get_flops.py --paper-tables

``--paper-tables`` builds every row from a genotype: Table 1's non-local
rows are MobileNetV2-LightNL genotypes with another ``non_local`` type,
Figure 5's rows the MobileNetV2 genotypes at a ``widen_factor``.

mmengine's FlopAnalyzer counts one multiply-accumulate as one "flop". The
paper counts convs, FCs, matmuls and SE pools, but neither BN nor residual
adds; where mmengine counts something the paper does not (BN, the
bilinear upsampling of a segmentor), it is shown in its own column, and the
"paper rules" column leaves it out.
"""
import argparse
import copy
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from analysis_utils import TensorMode, build_model_from_config  # noqa: E402

from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from autonl_mmseg.models import AutoNLNet  # noqa: E402
from autonl_mmseg.models.utils.complexity import genotype_macs  # noqa: E402
from autonl_mmseg.models.utils.genotype import load_genotype  # noqa: E402
from autonl_mmseg.models.utils.widths import widen_genotype  # noqa: E402

# mmengine operator names that the paper's convention does not count.
NOT_IN_PAPER = ('batch_norm', 'upsample_bilinear2d', 'upsample_nearest2d',
                'group_norm', 'layer_norm', 'instance_norm')

# Table 1: (label, non-local block placed at every LightNL position of
# MobileNetV2-LightNL, whether it takes that LightNL's r and s, paper delta
# MACs). The 1x1-W_z rows have no norm (the table counts none).
TABLE1 = [
    ('Wang et al. NL', dict(type='WangNonLocal', norm_cfg=None), False,
     6.2e9),
    ('Levi et al. NL', dict(type='LeviNonLocal', norm_cfg=None), False,
     146e6),
    ('Eqn 3', dict(type='Eqn3NonLocal', norm_cfg=None), False, 119e6),
    ('Eqn 5', dict(type='Eqn5NonLocal', norm_cfg=None), False, 93e6),
    ('Eqn 7', dict(type='Eqn7NonLocal', norm_cfg=None), False, 66e6),
    ('Eqn 9 (1x1 W_z)', dict(type='Eqn9NonLocal', norm_cfg=None), True,
     38e6),
    ('Eqn 9 + Eqn 8 (LightNL)', dict(type='LightNL'), True, 15e6),
]
TABLE3 = [  # (genotype, paper params, paper MACs)
    ('mobilenet-v2', 3.4e6, 300e6),
    ('mobilenet-v2-lightnl', None, 316e6),
    ('autonl-s', 4.4e6, 267e6),
    ('autonl-l', 5.6e6, 353e6),
]
# Figure 5: MobileNetV2 vs MobileNetV2-LightNL at these width multipliers.
# The text gives the MACs at 1.0 (301M vs 316M) and the LightNL delta at
# 0.5 (+6M).
FIGURE5_WIDTHS = (0.5, 0.75, 1.0, 1.4)
FIGURE5_PAPER_DELTA = {0.5: 6e6, 1.0: 15e6}


def count(model, shape):
    """Return (total, by_operator) MACs of ``model`` on a (1, 3, H, W)."""
    from mmengine.analysis import FlopAnalyzer
    model.eval()
    analyzer = FlopAnalyzer(model, (torch.randn(1, 3, *shape), ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer.total(), dict(analyzer.by_operator())


def paper_rule(by_op):
    return sum(v for k, v in by_op.items() if k not in NOT_IN_PAPER)


def build_classifier(genotype, num_classes=1000, widen_factor=1.0):
    from mmengine.registry import MODELS
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    head = widen_genotype(load_genotype(genotype),
                          widen_factor)['head_channels']
    return MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='AutoNLNet', genotype=genotype,
                      widen_factor=widen_factor),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='DropoutLinearClsHead', num_classes=num_classes,
                  in_channels=head)))


def variant_genotype(non_local, compact=False):
    """MobileNetV2-LightNL with ``non_local`` in place of each LightNL
    (after each block's projection); ``compact`` keeps the block's LightNL
    channel ratio and spatial stride (r = 0.25, s = 2 above 14x14)."""
    genotype = load_genotype('mobilenet-v2-lightnl')
    for block in genotype['blocks']:
        light_nl = block['non_local']
        block['non_local'] = copy.deepcopy(non_local)
        if compact:
            block['non_local'].update(
                channel_ratio=light_nl['channel_ratio'],
                spatial_stride=light_nl['spatial_stride'])
    genotype['name'] = f'mobilenet-v2-{non_local["type"]}'
    return genotype


def fmt(n, unit=1e6):
    return f'{n / unit:,.1f}M' if unit == 1e6 else f'{n / unit:,.2f}G'


def paper_tables(shape=(224, 224)):
    """Print Tables 1 and 3 and Figure 5's family beside the paper; return
    the rows of each."""
    from autonl_mmseg.engine import progress_bar
    with progress_bar() as bar:
        task = bar.add_task(
            'counting MACs',
            total=1 + len(TABLE1) + len(TABLE3) + 2 * len(FIGURE5_WIDTHS))
        return _paper_tables(shape, lambda: bar.advance(task))


def _paper_tables(shape, advance):
    rows1, rows3 = [], []
    _, base_ops = count(AutoNLNet(genotype='mobilenet-v2'), shape)
    advance()
    base = paper_rule(base_ops)
    print(f'\nTable 1: non-local variants in all 17 blocks of MobileNetV2 at '
          f'{shape[0]}x{shape[1]} (backbone MACs {fmt(base)}; paper 301M)')
    print(f'{"variant":26s} {"delta MACs":>12s} {"paper":>9s} {"ratio":>7s}'
          f' {"BN (not in paper)":>18s}')
    for label, non_local, compact, paper in TABLE1:
        _, ops = count(
            AutoNLNet(genotype=variant_genotype(non_local, compact)), shape)
        advance()
        delta = paper_rule(ops) - base
        bn = ops.get('batch_norm', 0) - base_ops.get('batch_norm', 0)
        unit = 1e9 if paper >= 1e9 else 1e6
        print(f'{label:26s} {"+" + fmt(delta, unit):>12s} '
              f'{"+" + fmt(paper, unit):>9s} {delta / paper:7.3f} '
              f'{fmt(bn):>18s}')
        rows1.append(dict(variant=non_local['type'], delta=delta,
                          paper=paper, ratio=delta / paper))
    print(f'\nTable 3: classifiers at {shape[0]}x{shape[1]}, 1000 classes')
    print(f'{"network":22s} {"params":>8s} {"paper":>7s} {"ratio":>6s} '
          f'{"MACs":>8s} {"paper":>7s} {"ratio":>6s} {"analytic":>9s} '
          f'{"BN (not in paper)":>18s}')
    for name, paper_params, paper_macs in TABLE3:
        model = build_classifier(name)
        params = sum(p.numel() for p in model.parameters())
        _, ops = count(TensorMode(model), shape)
        advance()
        macs = paper_rule(ops)
        analytic = genotype_macs(load_genotype(name), shape)['total']
        p_paper = f'{paper_params / 1e6:.1f}M' if paper_params else '-'
        p_ratio = f'{params / paper_params:.3f}' if paper_params else '-'
        print(f'{name:22s} {params / 1e6:7.2f}M {p_paper:>7s} {p_ratio:>6s} '
              f'{fmt(macs):>8s} {fmt(paper_macs):>7s} '
              f'{macs / paper_macs:6.3f} {fmt(analytic):>9s} '
              f'{fmt(ops.get("batch_norm", 0)):>18s}')
        rows3.append(dict(name=name, params=params, paper_params=paper_params,
                          macs=macs, paper_macs=paper_macs,
                          analytic=analytic))
    rows5 = figure5(shape, advance)
    return rows1, rows3, rows5


def figure5(shape=(224, 224), advance=lambda: None):
    """MobileNetV2 and MobileNetV2-LightNL classifiers at Figure 5's width
    multipliers; print and return the rows (``advance()`` after each
    model)."""
    print(f'\nFigure 5: MobileNetV2 vs MobileNetV2-LightNL by width '
          f'multiplier at {shape[0]}x{shape[1]}, 1000 classes')
    print(f'{"width":>5s} {"params":>8s} {"MACs":>8s} {"+LightNL":>9s} '
          f'{"params":>8s} {"delta":>7s} {"paper":>7s} {"analytic":>9s}')
    rows = []
    for width in FIGURE5_WIDTHS:
        row = dict(width=width)
        for key, name in (('base', 'mobilenet-v2'),
                          ('light_nl', 'mobilenet-v2-lightnl')):
            model = build_classifier(name, widen_factor=width)
            _, ops = count(TensorMode(model), shape)
            advance()
            row[f'{key}_params'] = sum(p.numel() for p in model.parameters())
            row[f'{key}_macs'] = paper_rule(ops)
            row[f'{key}_analytic'] = genotype_macs(
                widen_genotype(load_genotype(name), width), shape)['total']
        row['delta'] = row['light_nl_macs'] - row['base_macs']
        row['paper_delta'] = FIGURE5_PAPER_DELTA.get(width)
        paper = (f'+{fmt(row["paper_delta"])}'
                 if row['paper_delta'] else '-')
        analytic_ok = (row['base_analytic'] == row['base_macs']
                       and row['light_nl_analytic'] == row['light_nl_macs'])
        print(f'{width:5.2f} {row["base_params"] / 1e6:7.2f}M '
              f'{fmt(row["base_macs"]):>8s} {fmt(row["light_nl_macs"]):>9s} '
              f'{row["light_nl_params"] / 1e6:7.2f}M '
              f'{"+" + fmt(row["delta"]):>7s} {paper:>7s} '
              f'{"equal" if analytic_ok else "DIFFERS":>9s}')
        rows.append(row)
    return rows


def config_complexity(config, shape, cfg_options=None):
    """Params and MACs of the model of any of our configs (a path or a
    loaded ``Config``)."""
    # no init_weights(): MACs and params do not depend on the values (and
    # without a log file MMEngine would print one line per parameter)
    model = build_model_from_config(config, cfg_options)
    params = sum(p.numel() for p in model.parameters())
    total, ops = count(TensorMode(model), shape)
    return params, total, ops


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', help='config file')
    parser.add_argument('--shape', type=int, nargs='+', default=None,
                        help='input size H [W] (default 224, 512 for '
                        'segmentation)')
    parser.add_argument('--paper-tables', action='store_true',
                        help="print the paper's Tables 1 and 3 and Figure "
                        "5's width family beside ours")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not args.config and not args.paper_tables:
        parser.error('give a CONFIG or --paper-tables')
    if args.shape is not None and (len(args.shape) > 2
                                   or min(args.shape) < 1):
        parser.error('--shape takes H [W], each >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.paper_tables:
        paper_tables()
    if args.config:
        from autonl_mmseg.engine.launch import load_config
        cfg = load_config(args.config, args.cfg_options)
        shape = args.shape or [512 if cfg.get('default_scope') == 'mmseg'
                               else 224]
        shape = (shape[0], shape[-1])
        params, total, ops = config_complexity(cfg, shape)
        not_paper = {k: v for k, v in ops.items() if k in NOT_IN_PAPER}
        print(f'\n{args.config}\ninput shape: (1, 3, {shape[0]}, {shape[1]})')
        print(f'params: {params / 1e6:.3f}M')
        print(f'MACs (paper rules): {fmt(total - sum(not_paper.values()))}')
        for k, v in not_paper.items():
            print(f'  + {k} (counted by mmengine, not by the paper): '
                  f'{fmt(v)}')
        print(f'MACs (mmengine total): {fmt(total)}')


if __name__ == '__main__':
    run_cli(main)
