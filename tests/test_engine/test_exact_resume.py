"""kill -9 in the middle of a run, --resume, and the final weights equal an
uninterrupted run's, tensor for tensor: segmentation (iteration-based, data
loader workers), classification (epoch-based, EMA) and the search.

The killed run is the same run with a far-away end (max iterations/epochs
1000; the schedules below do not depend on it): it is killed right after its
first checkpoint appears, so its resumed continuation is never past the end
of the reference run. Each case writes a small config deriving from the toy
config with everything it depends on spelled out (schedules, checkpoints).
"""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import autonl_mmseg  # noqa: F401  (weights_only allow-list)
from conftest import ROOT, cls_data_options, seg_data_options

KILL_DELAY_S = 0.2  # after the first checkpoint: into the next iteration

SEG = dict(
    config='configs/autonl/toy/deeplabv3_autonl_toy-voc.py',
    body='''
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=2, end=100,
         by_epoch=False),
]
train_cfg = dict(max_iters=8, val_interval=3)
# two workers: their random streams continue through MMEngine's replay
train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True)
val_dataloader = dict(num_workers=0, persistent_workers=False)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=2, max_keep_ckpts=10))
''',
    far='train_cfg.max_iters=1000',
    final='iter_8.pth',
    steps=8)
CLS = dict(
    config='configs/autonl/toy/autonl-s_toy-in1k.py',
    body='''
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='StepLR', by_epoch=True, step_size=1, gamma=0.97, begin=0),
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
train_dataloader = dict(batch_size=8)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=10))
# the EMA of the paper's ImageNet recipe (configs/autonl/*_in1k.py)
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]
''',
    far='train_cfg.max_epochs=1000',
    final='epoch_4.pth',
    steps=4)
SEARCH = dict(
    config='configs/autonl/toy/autonl_search_toy-in1k.py',
    body='''
model = dict(cost_warmup=5, cost_weight=1.0)  # warm-up in iterations
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
]
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(threshold=dict(lr_mult=5.0))))
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
train_dataloader = dict(batch_size=8)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=10))
# the EMA of the paper's ImageNet recipe (configs/autonl/*_in1k.py)
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]
''',
    far='train_cfg.max_epochs=1000',
    final='epoch_4.pth',
    steps=4)


def derived_config(tmp_path, case):
    path = tmp_path / 'config.py'
    path.write_text(f'_base_ = [{str(ROOT / case["config"])!r}]\n' +
                    case['body'])
    return str(path)


def train(config, work_dir, options, resume=False, kill=False):
    """Run tools/train.py; with ``kill``, SIGKILL it after its first
    checkpoint. Returns (return code, log text)."""
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir',
           str(work_dir), *(['--resume'] if resume else []),
           '--cfg-options', *options]
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    log = work_dir.parent / f'{work_dir.name}{"_resume" if resume else ""}.log'
    with open(log, 'w') as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env)
        try:
            if kill:
                deadline = time.monotonic() + 600
                while not (work_dir / 'last_checkpoint').exists():
                    assert proc.poll() is None, \
                        f'ended before its first checkpoint:\n' \
                        f'{log.read_text()[-3000:]}'
                    assert time.monotonic() < deadline, 'no checkpoint'
                    time.sleep(0.02)
                time.sleep(KILL_DELAY_S)
                os.kill(proc.pid, signal.SIGKILL)
            returncode = proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
    return returncode, log.read_text()


def tensors(checkpoint):
    """Every tensor of a checkpoint's model, EMA model and optimizer."""
    out = {}

    def walk(prefix, node):
        if isinstance(node, torch.Tensor):
            out[prefix] = node
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(f'{prefix}.{key}', value)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(f'{prefix}.{i}', value)

    for key in ('state_dict', 'ema_state_dict', 'optimizer'):
        if key in checkpoint:
            walk(key, checkpoint[key])
    return out


@pytest.mark.parametrize('case,data', [(SEG, 'seg'), (CLS, 'cls'),
                                       (SEARCH, 'cls')],
                         ids=['segmentation', 'classification', 'search'])
def test_kill_9_then_resume_is_bit_exact(case, data, tmp_path, request):
    if data == 'seg':
        options = seg_data_options(request.getfixturevalue('toy_voc_root'))
    else:
        options = cls_data_options(
            request.getfixturevalue('toy_imagenet_root'))
    config = derived_config(tmp_path, case)
    reference, killed = tmp_path / 'reference', tmp_path / 'killed'

    code, log = train(config, reference, options)
    assert code == 0, log[-3000:]

    code, log = train(config, killed, [*options, case['far']], kill=True)
    assert code == -signal.SIGKILL, log[-3000:]
    last = (killed / 'last_checkpoint').read_text()
    step = int(last.rsplit('_', 1)[1].split('.')[0])
    assert step < case['steps'], f'killed too late ({last}): nothing to test'

    code, log = train(config, killed, options, resume=True)
    assert code == 0, log[-3000:]
    assert 'resumed epoch' in log, log[-3000:]

    a = torch.load(reference / case['final'], map_location='cpu',
                   weights_only=True)
    b = torch.load(killed / case['final'], map_location='cpu',
                   weights_only=True)
    assert len(a['random_state']['ranks']) == 1
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys() and len(ta) > 100
    if case is CLS:  # the EMA model is part of what must resume exactly
        assert any(k.startswith('ema_state_dict') for k in ta)
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    worst = max((float((ta[k].double() - tb[k].double()).abs().max())
                 for k in differ), default=0.0)
    print(f'{request.node.callspec.id}: resumed from {last}, {len(ta)} '
          f'tensors, {len(differ)} differ, max |diff| {worst}')
    assert not differ, f'{len(differ)} of {len(ta)} tensors differ ' \
        f'(max |diff| {worst}), e.g. {differ[:5]}'
