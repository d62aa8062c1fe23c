# Copyright (c) autonl_mmseg contributors.
"""The main job on the built-in default, no download: make the toy VOC data,
train DeepLabV3 with our headline backbone (AutoNL-S) on CPU, evaluate it,
print the mIoU and save prediction overlays as PNG.

    python tools/demo.py [--config CFG] [--work-dir DIR] [--iters N]
"""
import argparse
import glob
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = 'configs/autonl/toy/deeplabv3_autonl_toy-voc.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/toy_voc')
    parser.add_argument(
        '--iters', type=int, default=None,
        help='training iterations (default: the config\'s schedule)')
    parser.add_argument('--num-overlays', type=int, default=6)
    return parser.parse_args(argv)


def run(cmd):
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def save_overlays(config, checkpoint, data_root, out_dir, count, options):
    """Predict the first ``count`` val images; save GT | prediction overlays."""
    import mmcv
    from mmseg.apis import inference_model, init_model
    from mmseg.visualization import SegLocalVisualizer

    import autonl_mmseg  # noqa: F401

    model = init_model(config, checkpoint, device='cpu', cfg_options=options)
    voc = osp.join(data_root, 'VOCdevkit', 'VOC2012')
    with open(osp.join(voc, 'ImageSets', 'Segmentation', 'val.txt')) as f:
        names = [line.strip() for line in f if line.strip()][:count]
    visualizer = SegLocalVisualizer(
        name='autonl_demo', vis_backends=[dict(type='LocalVisBackend')],
        save_dir=out_dir, alpha=0.6)
    visualizer.dataset_meta = model.dataset_meta
    os.makedirs(out_dir, exist_ok=True)
    from mmengine.structures import PixelData
    for name in names:
        image = mmcv.imread(osp.join(voc, 'JPEGImages', name + '.jpg'),
                            channel_order='rgb')
        result = inference_model(model, image)
        gt = mmcv.imread(
            osp.join(voc, 'SegmentationClass', name + '.png'),
            flag='unchanged', backend='pillow')
        import torch
        result.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
        visualizer.add_datasample(
            name, image, result, draw_gt=True, draw_pred=True,
            out_file=osp.join(out_dir, f'{name}.png'))
    return sorted(glob.glob(osp.join(out_dir, '*.png')))


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    py = sys.executable
    run([py, 'tools/dataset_converters/make_toy_voc.py', '--out',
         args.data_root])
    voc_root = osp.join(args.data_root, 'VOCdevkit', 'VOC2012')
    options = [f'train_dataloader.dataset.data_root={voc_root}',
               f'val_dataloader.dataset.data_root={voc_root}',
               f'test_dataloader.dataset.data_root={voc_root}']
    if args.iters:
        options += [f'train_cfg.max_iters={args.iters}',
                    f'train_cfg.val_interval={args.iters}',
                    f'default_hooks.checkpoint.interval={args.iters}',
                    f'param_scheduler.1.end={args.iters}']
    run([py, 'tools/train.py', args.config, '--work-dir', args.work_dir,
         '--cfg-options', *options])
    with open(osp.join(ROOT, args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    test_dir = osp.join(args.work_dir, 'test')
    run([py, 'tools/test.py', args.config, checkpoint, '--work-dir', test_dir,
         '--cfg-options', *options])
    # The test log ends with the metrics; read them back from the json log.
    import json
    logs = sorted(glob.glob(osp.join(ROOT, test_dir, '*', '*.json')))
    metrics = json.loads(open(logs[-1]).read().strip().splitlines()[-1])
    overlays = save_overlays(
        osp.join(ROOT, args.config), osp.join(ROOT, checkpoint),
        osp.join(ROOT, args.data_root),
        osp.join(ROOT, args.work_dir, 'overlays'), args.num_overlays,
        {'test_dataloader.dataset.data_root': voc_root})
    print(f'\nDeepLabV3 + AutoNL-S on toy VOC ({args.config}):')
    print(f'  mIoU = {metrics["mIoU"]:.2f}  (aAcc {metrics["aAcc"]:.2f}, '
          f'mAcc {metrics["mAcc"]:.2f})')
    print(f'  checkpoint: {checkpoint}')
    print(f'  {len(overlays)} overlays (ground truth | prediction, drawn '
          f'over the image): {osp.relpath(osp.dirname(overlays[0]), ROOT)}/'
          if overlays else '  no overlays written')
    print(f'  total time {time.time() - start:.0f} s')
    return metrics


if __name__ == '__main__':
    main()
