"""tools/train.py, --resume and tools/test.py on a classification config."""
import torch

from conftest import cls_data_options, run_tool

CONFIG = 'configs/autonl/toy/autonl-s_toy-in1k.py'


def test_train_resume_test_classification(toy_imagenet_root, tmp_path):
    import autonl_mmseg  # noqa: F401
    work = tmp_path / 'work'
    opts = cls_data_options(toy_imagenet_root) + [
        'train_dataloader.batch_size=8', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1', 'train_cfg.val_interval=10']
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(work),
              '--cfg-options', *opts, 'train_cfg.max_epochs=1'])
    first = torch.load(work / 'epoch_1.pth', map_location='cpu',
                       weights_only=True)
    iters_per_epoch = first['meta']['iter']
    assert iters_per_epoch == 3  # 24 images / batch 8

    proc = run_tool(['tools/train.py', CONFIG, '--work-dir', str(work),
                     '--resume', '--cfg-options', *opts,
                     'train_cfg.max_epochs=2'])
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    last = torch.load(work / 'epoch_2.pth', map_location='cpu',
                      weights_only=True)
    assert last['meta']['epoch'] == 2
    assert last['meta']['iter'] == 2 * iters_per_epoch
    # RMSprop state (square_avg, momentum_buffer) restored and extended.
    state = next(iter(last['optimizer']['state'].values()))
    assert {'square_avg', 'momentum_buffer'} <= set(state)
    assert int(state['step']) == 2 * iters_per_epoch

    proc = run_tool(['tools/test.py', CONFIG, str(work / 'epoch_2.pth'),
                     '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                     *opts])
    assert 'accuracy/top1' in proc.stdout + proc.stderr
