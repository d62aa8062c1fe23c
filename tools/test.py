# Copyright (c) autonl_mmseg contributors.
"""Test (evaluate) a checkpoint of an MMSeg or MMPretrain config. Same
arguments as MMSeg's tools/test.py (plus MMPretrain's --out-item)."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import autonl_mmseg  # noqa: F401,E402
from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from autonl_mmseg.engine.launch import (build_runner, check_checkpoint,  # noqa: E402
                                        check_data_roots, check_seg_map_sizes,
                                        config_scope, fail, finish_distributed,
                                        load_config,
                                        set_local_rank, setup_distributed)
from autonl_mmseg.models.utils import GenotypeMismatchError  # noqa: E402


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='segmentation: directory to save the predicted maps; '
        'classification: a pickle file for the results')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='classification only: what to dump into --out')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where every test image is saved with its '
        'prediction drawn (DIR/<image name>.png)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    set_local_rank(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args, scope):
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        fail('--show/--show-dir need a visualization hook in the config\'s '
             'default_hooks (visualization=dict(type=...VisualizationHook))')
    hook = default_hooks['visualization']
    if scope == 'mmseg':
        # every image into --show-dir itself (MMSeg's SegVisualizationHook
        # draws one batch in 50 into DIR/vis_data/vis_image)
        default_hooks['visualization'] = dict(
            type='SegShowDirHook', out_dir=args.show_dir, show=args.show,
            wait_time=args.wait_time)
    else:
        hook['enable'] = True
        hook['show'] = args.show
        hook['wait_time'] = args.wait_time
        hook['out_dir'] = args.show_dir
        hook['interval'] = 1
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    scope = config_scope(cfg)
    check_checkpoint(args.checkpoint)
    setup_distributed(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args, scope)

    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            fail('--tta needs tta_model and tta_pipeline in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        if scope == 'mmseg':
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
        elif not args.out.endswith(('.pkl', '.pickle')):
            fail('--out must be a .pkl file for classification configs')
    check_data_roots(cfg, ['test_dataloader'])
    check_seg_map_sizes(cfg)

    runner = build_runner(cfg)
    if scope == 'mmpretrain' and args.out and args.out_item in (None, 'pred'):
        from mmpretrain.evaluation import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    try:
        metrics = runner.test()
    except GenotypeMismatchError as e:  # a checkpoint of another genotype
        fail(str(e))
    finish_distributed()
    if scope == 'mmpretrain' and args.out and args.out_item == 'metrics':
        import mmengine
        mmengine.dump(metrics, args.out)
    return metrics


if __name__ == '__main__':
    run_cli(main)
