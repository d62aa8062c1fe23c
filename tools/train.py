# Copyright (c) autonl_mmseg contributors.
"""Train a segmentor (MMSeg config) or a classifier / search (MMPretrain
config) with MMEngine's Runner. Same arguments as MMSeg's tools/train.py.

Every run writes atomic checkpoints holding the random states, and
``--resume`` continues bit-exactly (``ResumableCheckpointHook``), falling
back to the newest readable checkpoint if the latest one is damaged. Bad
inputs (config values, genotypes, checkpoints, data) stop with one line
``error: ...`` (exit 2); ``--debug`` shows the traceback."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import autonl_mmseg  # noqa: F401,E402  (registers modules, checkpoint allow-list)
from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from autonl_mmseg.engine.launch import (build_runner, check_checkpoint,  # noqa: E402
                                        check_data_roots, check_datasets,
                                        check_pretrained, check_seg_map_sizes,
                                        config_scope, fail, finish_distributed,
                                        load_config,
                                        set_local_rank, setup_distributed,
                                        use_fast_gpu_training,
                                        use_resumable_checkpoints)
from autonl_mmseg.models.utils import GenotypeMismatchError  # noqa: E402


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR (MMPretrain configs)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not validate during training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    set_local_rank(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    scope = config_scope(cfg)
    setup_distributed(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        use_fast_gpu_training(cfg)

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    cfg.resume = args.resume
    loaders = ['train_dataloader']
    if cfg.get('val_cfg', None):
        loaders.append('val_dataloader')
    check_data_roots(cfg, loaders)
    if not args.resume:  # --resume validates (and falls back) by itself
        check_checkpoint(cfg.get('load_from', None), 'load_from checkpoint')
    check_pretrained(cfg)
    use_resumable_checkpoints(cfg)
    check_seg_map_sizes(cfg)

    runner = build_runner(cfg)
    check_datasets(runner, loaders)
    try:
        runner.train()
    except GenotypeMismatchError as e:  # load_from, --resume or Pretrained
        fail(str(e))
    finish_distributed()
    return runner


if __name__ == '__main__':
    run_cli(main)
