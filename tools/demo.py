# Copyright (c) autonl_mmseg contributors.
"""The main job: the paper's pipeline in miniature, on the built-in toy data.

    python tools/demo.py [--work-dir work_dirs/demo] [--cls-epochs N]
        [--seg-iters N]

1. makes the toy ImageNet and toy VOC sets (deterministic, no download);
2. pretrains the AutoNL-S classifier on the toy ImageNet with the project's
   classification config (the toy counterpart of the paper's recipe) and
   prints its val top-1;
3. fine-tunes DeepLabV3-AutoNL-S from that checkpoint (``Pretrained`` init
   of the backbone with ``prefix='backbone.'``: the ImageNet -> VOC transfer
   of Section 4.1);
4. tests it: mIoU and the per-class IoU table on the toy VOC val split;
5. writes overlays (image | ground truth | prediction) and a PNG of the
   training curves.

Every stage runs the normal tools (``tools/train.py``, ``tools/test.py``);
their full output goes to ``WORK_DIR/demo.log``, the terminal shows the
progress lines of MMEngine's logger (with its ETA) and the results.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from autonl_mmseg.engine.cli import run_cli  # noqa: E402

CLS_CONFIG = 'configs/autonl/toy/autonl-s_toy-in1k.py'
SEG_CONFIG = 'configs/autonl/toy/deeplabv3_autonl_toy-voc.py'
# Seconds per training iteration of the two configs on the 2-core reference
# machine (docs/results.md), for the stage ETAs.
REF_SECONDS_PER_ITER = {'cls': 0.17, 'seg': 0.2}
# Terminal lines worth showing from the tools' logs.
SHOW = re.compile(r'(Epoch|Iter)\((train|val|test)\)|per class results|'
                  r'^\s*[|+]|error|Error|Traceback|Killed')
LOG_PREFIX = re.compile(r'^\d+/\d+ \d+:\d+:\d+ - mmengine - \w+ - ')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cls-data-root', default='data/toy_imagenet')
    parser.add_argument('--seg-data-root', default='data/toy_voc')
    parser.add_argument('--cls-epochs', type=int, default=None,
                        help='pretraining epochs (default: the config)')
    parser.add_argument('--seg-iters', type=int, default=None,
                        help='fine-tuning iterations (default: the config)')
    parser.add_argument('--num-overlays', type=int, default=6)
    args = parser.parse_args(argv)
    for name, least in (('cls_epochs', 1), ('seg_iters', 2),
                        ('num_overlays', 1)):
        value = getattr(args, name)
        if value is not None and value < least:
            parser.error(f'--{name.replace("_", "-")} must be >= {least}')
    return args


class Stages:
    """Runs the stages, logs everything, shows progress and ETAs."""

    def __init__(self, work_dir, total):
        self.total = total
        self.index = 0
        self.start = time.time()
        os.makedirs(work_dir, exist_ok=True)
        self.log_path = osp.join(work_dir, 'demo.log')
        self.log = open(self.log_path, 'w')

    def begin(self, title, eta=None):
        self.index += 1
        self.stage_start = time.time()
        eta = f' (ETA ~{eta / 60:.1f} min)' if eta else ''
        print(f'\n[{self.index}/{self.total}] {title}{eta}', flush=True)

    def end(self, summary=''):
        took = time.time() - self.stage_start
        print(f'    done in {took / 60:.1f} min{summary}', flush=True)
        return took

    def run(self, cmd):
        """Run a tool; show its progress lines; fail with its last lines."""
        self.log.write('+ ' + ' '.join(cmd) + '\n')
        self.log.flush()
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        tail = []
        for line in proc.stdout:
            self.log.write(line)
            tail = (tail + [line])[-30:]
            if SHOW.search(line):
                print('    ' + LOG_PREFIX.sub('', line.rstrip()),
                      flush=True)
        self.log.flush()
        if proc.wait() != 0:
            sys.stdout.write(''.join(tail))
            print(f'error: {cmd[1]} failed (exit {proc.returncode}); the '
                  f'full output is in {self.log_path}', file=sys.stderr)
            raise SystemExit(proc.returncode or 1)


def read_checkpoint_path(work_dir):
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def last_scalars(work_dir, key):
    """The last value of ``key`` in the newest scalars.json of work_dir."""
    files = sorted(glob.glob(osp.join(ROOT, work_dir, '*', 'vis_data',
                                      'scalars.json')))
    value = None
    for line in open(files[-1]):
        record = json.loads(line)
        value = record.get(key, value)
    return value


def loader_options(loaders, data_root):
    return [f'{loader}.dataset.data_root={data_root}' for loader in loaders]


def save_overlays(config, checkpoint, voc_root, out_dir, count, options):
    """Predict ``count`` val images; save image | ground truth | prediction.
    """
    import mmcv
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    from mmseg.apis import inference_model, init_model
    from mmseg.visualization import SegLocalVisualizer

    import autonl_mmseg  # noqa: F401

    model = init_model(config, checkpoint, device='cpu', cfg_options=options)
    with open(osp.join(voc_root, 'ImageSets', 'Segmentation',
                       'val.txt')) as f:
        names = [line.strip() for line in f if line.strip()][:count]
    visualizer = SegLocalVisualizer(name='autonl_demo', alpha=0.6)
    visualizer.dataset_meta = model.dataset_meta
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in names:
        image = mmcv.imread(osp.join(voc_root, 'JPEGImages', name + '.jpg'),
                            channel_order='rgb')
        result = inference_model(model, image)
        gt = mmcv.imread(osp.join(voc_root, 'SegmentationClass',
                                  name + '.png'),
                         flag='unchanged', backend='pillow')
        result.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
        # the visualizer draws ground truth | prediction over the image into
        # out_file (its get_image() would return the last panel only)
        out_file = osp.join(out_dir, f'{name}.png')
        visualizer.add_datasample(name, image, result, draw_gt=True,
                                  draw_pred=True, with_labels=False,
                                  out_file=out_file)
        drawn = mmcv.imread(out_file, channel_order='rgb')
        panel = np.concatenate([image, np.full_like(image[:, :4], 255),
                                drawn], axis=1)
        mmcv.imwrite(mmcv.rgb2bgr(panel), out_file)
        written.append(out_file)
    return written


def make_toy_data(stages, cls_data_root, seg_data_root):
    """Stage: the toy ImageNet and VOC sets (skipped when up to date)."""
    py = sys.executable
    stages.begin('toy data: ImageNet-format and VOC-format sets')
    stages.run([py, 'tools/dataset_converters/make_toy_imagenet.py',
                '--out', cls_data_root])
    stages.run([py, 'tools/dataset_converters/make_toy_voc.py', '--out',
                seg_data_root])
    stages.end()


def run_pipeline(stages, work_dir, cls_data_root, seg_data_root,
                 genotype='autonl-s', seed=0, cls_epochs=None,
                 seg_iters=None, test=True):
    """Pretrain a classifier of ``genotype`` on the toy ImageNet, fine-tune
    DeepLabV3 from its backbone on the toy VOC, test it.

    Returns a dict with ``top1``, the test metrics (``mIoU``, ``aAcc``,
    ``mAcc``), the checkpoints and the seconds each stage took.
    """
    from mmengine.config import Config
    py = sys.executable
    cls_cfg = Config.fromfile(osp.join(ROOT, CLS_CONFIG))
    seg_cfg = Config.fromfile(osp.join(ROOT, SEG_CONFIG))
    cls_dir = osp.join(work_dir, 'pretrain')
    seg_dir = osp.join(work_dir, 'finetune')
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    common = [f'model.backbone.genotype={genotype}', f'randomness.seed={seed}']

    cls_options = loader_options(loaders, cls_data_root) + common
    epochs = cls_epochs or cls_cfg.train_cfg.max_epochs
    if cls_epochs:
        cls_options += [f'train_cfg.max_epochs={epochs}',
                        f'train_cfg.val_interval={epochs}']
    with open(osp.join(ROOT, cls_data_root, 'meta', 'train.txt')) as f:
        num_train = sum(1 for line in f if line.strip())
    cls_iters = epochs * -(-num_train // cls_cfg.train_dataloader.batch_size)
    stages.begin(f'pretrain the {genotype} classifier on toy ImageNet '
                 f'({CLS_CONFIG}, {epochs} epochs = {cls_iters} iterations)',
                 eta=cls_iters * REF_SECONDS_PER_ITER['cls'])
    stages.run([py, 'tools/train.py', CLS_CONFIG, '--work-dir', cls_dir,
                '--cfg-options', *cls_options])
    top1 = last_scalars(cls_dir, 'accuracy/top1')
    cls_ckpt = read_checkpoint_path(cls_dir)
    cls_seconds = stages.end(f': val top-1 {top1:.2f}%')

    voc_root = osp.join(seg_data_root, 'VOCdevkit', 'VOC2012')
    seg_options = loader_options(loaders, voc_root) + common
    iters = seg_iters or seg_cfg.train_cfg.max_iters
    if seg_iters:
        seg_options += [f'train_cfg.max_iters={iters}',
                        f'train_cfg.val_interval={iters}',
                        f'default_hooks.checkpoint.interval={iters}']
        # the poly decay ends with the run; the warm-up takes at most half
        warmup = min(seg_cfg.param_scheduler[0]['end'], iters // 2)
        seg_options += [f'param_scheduler.0.end={warmup}',
                        f'param_scheduler.1.begin={warmup}',
                        f'param_scheduler.1.end={iters}']
    stages.begin(f'fine-tune DeepLabV3-{genotype} on toy VOC from the '
                 f'pretrained backbone ({SEG_CONFIG}, {iters} iterations)',
                 eta=iters * REF_SECONDS_PER_ITER['seg'])
    stages.run([py, 'tools/train.py', SEG_CONFIG, '--work-dir', seg_dir,
                '--cfg-options', *seg_options,
                f'model.backbone.init_cfg.checkpoint={cls_ckpt}'])
    seg_ckpt = read_checkpoint_path(seg_dir)
    seg_seconds = stages.end()
    result = dict(top1=top1, cls_checkpoint=cls_ckpt, seg_checkpoint=seg_ckpt,
                  cls_seconds=cls_seconds, seg_seconds=seg_seconds,
                  seg_options=seg_options, voc_root=voc_root)
    if not test:
        result['mIoU'] = last_scalars(seg_dir, 'mIoU')
        return result

    stages.begin('test on the toy VOC val split (tools/test.py)')
    test_dir = osp.join(work_dir, 'test')
    stages.run([py, 'tools/test.py', SEG_CONFIG, seg_ckpt, '--work-dir',
                test_dir, '--cfg-options', *seg_options])
    logs = sorted(glob.glob(osp.join(ROOT, test_dir, '*', '*.json')))
    with open(logs[-1]) as f:
        metrics = json.loads(f.read().strip().splitlines()[-1])
    stages.end(f': mIoU {metrics["mIoU"]:.2f}')
    result.update(metrics)
    return result


def main(argv=None):
    args = parse_args(argv)
    stages = Stages(osp.join(ROOT, args.work_dir), total=5)
    print(f'AutoNL demo: toy ImageNet pretraining -> DeepLabV3 fine-tuning '
          f'on toy VOC (full log: {osp.relpath(stages.log_path, ROOT)})')
    make_toy_data(stages, args.cls_data_root, args.seg_data_root)
    result = run_pipeline(stages, args.work_dir, args.cls_data_root,
                          args.seg_data_root, cls_epochs=args.cls_epochs,
                          seg_iters=args.seg_iters)

    stages.begin('overlays and training curves')
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    import plot_curves
    curves = osp.join(ROOT, args.work_dir, 'curves.png')
    plot_curves.plot([osp.join(ROOT, args.work_dir, 'pretrain'),
                      osp.join(ROOT, args.work_dir, 'finetune')],
                     curves, labels=['pretrain (toy ImageNet)',
                                     'fine-tune (toy VOC)'])
    voc_root = result['voc_root']
    overlays = save_overlays(
        osp.join(ROOT, SEG_CONFIG), osp.join(ROOT, result['seg_checkpoint']),
        osp.join(ROOT, voc_root), osp.join(ROOT, args.work_dir, 'overlays'),
        args.num_overlays, {'test_dataloader.dataset.data_root': voc_root})
    stages.end()

    total = time.time() - stages.start
    print('\nResult (AutoNL-S, paper pipeline in miniature):')
    print(f'  toy ImageNet val top-1 (pretraining): {result["top1"]:.2f}%')
    print(f'  toy VOC val mIoU (DeepLabV3 fine-tuned): {result["mIoU"]:.2f}'
          f'  (aAcc {result["aAcc"]:.2f}, mAcc {result["mAcc"]:.2f})')
    print(f'  checkpoints: {result["cls_checkpoint"]}, '
          f'{result["seg_checkpoint"]}')
    print(f'  curves: {osp.relpath(curves, ROOT)}')
    print(f'  {len(overlays)} overlays (image | ground truth | prediction): '
          f'{osp.join(args.work_dir, "overlays")}/')
    print(f'  total time {total / 60:.1f} min')
    return dict(result, seconds=total)


if __name__ == '__main__':
    run_cli(main)
