# Copyright (c) autonl_mmseg contributors.
"""Check every image and mask a config's datasets list.

    python tools/misc/check_dataset.py CONFIG [--splits train val test]
        [--cfg-options ...]

Builds the train/val/test datasets of CONFIG with MMSeg's or MMPretrain's
registries and reads every file their ``data_list`` names, fully decoded:
missing files, truncated or undecodable images, masks whose size differs
from their image's, mask label values outside the classes (besides the
ignore index) and classification labels outside the classes. Prints a table
of the problems and exits with 1 if there is any (0 if all is well; 2 for a
bad invocation). ``tools/train.py`` runs a cheap version (existence and
header sizes) on start-up.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import autonl_mmseg  # noqa: F401,E402
from autonl_mmseg.datasets.checks import check_samples  # noqa: E402
from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from autonl_mmseg.engine.launch import (check_data_roots,  # noqa: E402
                                        config_scope, load_config)

SPLITS = ('train', 'val', 'test')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Check every image and mask a config lists')
    parser.add_argument('config', help='config file')
    parser.add_argument('--splits', nargs='+', choices=SPLITS,
                        default=list(SPLITS), help='dataloaders to check')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def build_datasets(cfg, splits):
    """``[(split names, dataset)]``: one entry per distinct dataset config
    (test often repeats val)."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(config_scope(cfg))
    built = []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader or not loader.get('dataset'):
            continue
        dataset_cfg = loader['dataset']
        for names, other_cfg, _ in built:
            if other_cfg == dataset_cfg:
                names.append(split)
                break
        else:
            built.append(([split], dataset_cfg, DATASETS.build(dataset_cfg)))
    return [(names, dataset) for names, _, dataset in built]


def print_table(rows):
    header = ('split', 'file', 'problem')
    widths = [max(len(str(row[i])) for row in [header, *rows])
              for i in range(2)]
    line = f'{{:{widths[0]}s}}  {{:{widths[1]}s}}  {{}}'
    print(line.format(*header))
    print(line.format('-' * widths[0], '-' * widths[1], '-' * 7))
    for row in rows:
        print(line.format(*row))


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    check_data_roots(cfg, [f'{split}_dataloader' for split in args.splits
                           if cfg.get(f'{split}_dataloader', None)])
    rows, checked = [], 0
    for names, dataset in build_datasets(cfg, args.splits):
        problems, count, _ = check_samples(dataset, decode=True)
        checked += count
        rows += [('/'.join(names), path, problem)
                 for path, problem in problems]
    if rows:
        print_table(rows)
    print(f'{args.config}: {checked} samples checked, {len(rows)} '
          f'problem{"s" if len(rows) != 1 else ""}')
    return 1 if rows else 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
