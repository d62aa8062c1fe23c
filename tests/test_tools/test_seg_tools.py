"""tools/train.py, --resume and tools/test.py on a segmentation config."""
import mmcv
import torch

from conftest import run_tool, seg_data_options

CONFIG = 'configs/autonl/toy/deeplabv3_autonl_toy-voc.py'
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1']


def schedule(iters, ckpt_interval):
    return [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={ckpt_interval}',
            'default_hooks.checkpoint.max_keep_ckpts=5',
            'param_scheduler.0.end=2', f'param_scheduler.1.begin=2',
            'param_scheduler.1.end=100']


def test_train_resume_test(toy_voc_root, tmp_path):
    import autonl_mmseg  # noqa: F401  (checkpoint allow-list)
    work = tmp_path / 'work'
    opts = seg_data_options(toy_voc_root) + FAST
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(work),
              '--cfg-options', *opts, *schedule(4, 4)])
    first = torch.load(work / 'iter_4.pth', map_location='cpu',
                       weights_only=True)
    assert first['meta']['iter'] == 4
    assert 'optimizer' in first and 'param_schedulers' in first

    # Resume: continues at iteration 4 with optimizer/scheduler state.
    proc = run_tool(['tools/train.py', CONFIG, '--work-dir', str(work),
                     '--resume', '--cfg-options', *opts, *schedule(6, 2)])
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    last = torch.load(work / 'iter_6.pth', map_location='cpu',
                      weights_only=True)
    assert last['meta']['iter'] == 6
    # The poly scheduler (begin=2) continued from its saved step: 2 steps
    # before the resume, 2 more after it (a restart would give 2 in all).
    assert first['param_schedulers'][1]['last_step'] == 2
    assert last['param_schedulers'][1]['last_step'] == 4
    # Momentum buffers came back from the first run (SGD state per param).
    state = last['optimizer']['state']
    assert len(state) > 0 and all('momentum_buffer' in s
                                  for s in state.values())
    assert not (work / 'iter_2.pth').exists()  # no restart from scratch

    proc = run_tool(['tools/test.py', CONFIG, str(work / 'iter_6.pth'),
                     '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                     *opts])
    assert 'mIoU' in proc.stdout + proc.stderr


def test_show_dir_and_out(toy_voc_root, tmp_path):
    work = tmp_path / 'work'
    opts = seg_data_options(toy_voc_root) + FAST
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(work),
              '--cfg-options', *opts, *schedule(1, 1)])
    out = tmp_path / 'pred'
    run_tool(['tools/test.py', CONFIG, str(work / 'iter_1.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out', str(out),
              '--show-dir', str(tmp_path / 'show'), '--cfg-options', *opts])
    assert len(list(out.glob('*.png'))) == 4
    # every test image painted, flat in --show-dir (MMSeg's hook would
    # draw 1 in 50 into show/vis_data/vis_image)
    val = (toy_voc_root / 'ImageSets/Segmentation/val.txt').read_text()
    shown = sorted(p.name for p in (tmp_path / 'show').iterdir())
    assert shown == sorted(f'{name}.png' for name in val.split())
    painted = mmcv.imread(str(tmp_path / 'show' / shown[0]))
    image = mmcv.imread(str(toy_voc_root / 'JPEGImages' /
                            shown[0].replace('.png', '.jpg')))
    # MMSeg's visualizer: ground truth | prediction, each over the image
    h, w = image.shape[:2]
    assert painted.shape == (h, 2 * w, 3)
    assert (painted[:, w:] != image).any()
