"""Atomic checkpoints and the validated --resume of ResumableCheckpointHook:
a kill while saving leaves the previous checkpoint listed and readable;
truncated, empty and missing checkpoints (and an empty last_checkpoint) are
named in one line and the newest readable checkpoint is used instead, or
the run stops with one line if there is none."""
import os
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import autonl_mmseg.engine.checkpoint as checkpoint_module
from autonl_mmseg.engine import CheckpointError, ResumableCheckpointHook
from autonl_mmseg.engine.checkpoint import atomic_write, read_checkpoint
from conftest import cls_data_options, run_tool


def save(path, step):
    torch.save(dict(meta=dict(epoch=0, iter=step),
                    state_dict=dict(w=torch.full((64, ), float(step)))),
               path)
    return str(path)


def truncate(path):
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])


class Logger:

    def __init__(self):
        self.lines = []

    def warning(self, message):
        assert '\n' not in message
        self.lines.append(message)

    info = warning


def resume_choice(work_dir, load_from=None):
    """What the hook tells the Runner to resume from, and its log."""
    runner = SimpleNamespace(work_dir=str(work_dir), _resume=True,
                             _load_from=load_from, logger=Logger())
    ResumableCheckpointHook(by_epoch=False, interval=2).before_run(runner)
    return runner._load_from, runner.logger.lines


@pytest.fixture
def work_dir(tmp_path):
    """iter_2, iter_4 and iter_6, last_checkpoint -> iter_6."""
    for step in (2, 4, 6):
        save(tmp_path / f'iter_{step}.pth', step)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    return tmp_path


def test_readable_latest_is_used(work_dir):
    chosen, lines = resume_choice(work_dir)
    assert chosen == str(work_dir / 'iter_6.pth') and lines == []


@pytest.mark.parametrize('damage,words', [
    (truncate, ['unreadable']),
    (lambda p: open(p, 'wb').close(), ['empty file']),
    (os.remove, ['no such file']),
    (lambda p: open(p, 'wb').write(b'not a checkpoint at all'),
     ['unreadable']),
], ids=['truncated', 'empty', 'missing', 'garbage'])
def test_damaged_latest_falls_back(work_dir, damage, words):
    damage(work_dir / 'iter_6.pth')
    chosen, lines = resume_choice(work_dir)
    assert chosen == str(work_dir / 'iter_4.pth')
    assert len(lines) == 1 and 'iter_6.pth' in lines[0]
    assert 'resuming from' in lines[0] and 'iter_4.pth' in lines[0]
    assert all(word in lines[0] for word in words), lines[0]


def test_empty_or_missing_last_checkpoint(work_dir):
    (work_dir / 'last_checkpoint').write_text('')
    chosen, lines = resume_choice(work_dir)
    assert chosen == str(work_dir / 'iter_6.pth')
    assert 'last_checkpoint is empty' in lines[0]
    (work_dir / 'last_checkpoint').unlink()
    truncate(work_dir / 'iter_6.pth')
    chosen, lines = resume_choice(work_dir)
    assert chosen == str(work_dir / 'iter_4.pth')  # skips the damaged one
    assert any('last_checkpoint is missing' in line for line in lines)


def test_given_load_from_missing_falls_back(work_dir):
    chosen, lines = resume_choice(work_dir, str(work_dir / 'gone.pth'))
    assert chosen == str(work_dir / 'iter_6.pth')
    assert 'gone.pth: no such file' in lines[0]


def test_nothing_readable_stops_with_one_line(work_dir):
    for step in (2, 4, 6):
        truncate(work_dir / f'iter_{step}.pth')
    with pytest.raises(CheckpointError) as error:
        resume_choice(work_dir)
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert 'iter_6.pth' in message and 'no readable checkpoint' in message


def test_fresh_work_dir_starts_afresh(tmp_path):
    assert resume_choice(tmp_path) == (None, [])


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'f.bin'
    atomic_write(str(path), b'old')

    def crash(*args):
        raise OSError('killed')

    monkeypatch.setattr(checkpoint_module.os, 'replace', crash)
    with pytest.raises(OSError):
        atomic_write(str(path), b'new' * 1000)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f.bin']  # no temporary file left


class TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(self.dropout(torch.stack(inputs)))
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


@pytest.fixture
def own_default_scope():
    """A Runner makes its default scope the current one for good: put the
    previous one back for the tests that follow."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


def test_kill_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch,
                                                     own_default_scope):
    """max_keep_ckpts=1: MMEngine's own hook deletes the old checkpoint
    before writing the new one; a crash in the rename of iter_3 must leave
    iter_2 in place, listed in last_checkpoint and readable."""
    runner = Runner(
        model=TinyModel(), work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(4)) for _ in range(8)],
            sampler=dict(type='InfiniteSampler'), batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(checkpoint=dict(
            type='ResumableCheckpointHook', by_epoch=False, interval=1,
            max_keep_ckpts=1)),
        randomness=dict(seed=0))
    replace = os.replace

    def crash_on_iter_3(src, dst):
        if str(dst).endswith('iter_3.pth'):
            raise OSError('killed while saving')
        return replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, 'replace', crash_on_iter_3)
    with pytest.raises(OSError, match='killed while saving'):
        runner.train()
    names = sorted(os.listdir(tmp_path))
    assert 'iter_2.pth' in names and 'iter_3.pth' not in names
    assert 'iter_1.pth' not in names  # max_keep_ckpts=1 still holds
    assert not [n for n in names if n.endswith('.tmp')]
    assert (tmp_path / 'last_checkpoint').read_text() == \
        str(tmp_path / 'iter_2.pth')
    checkpoint = read_checkpoint(str(tmp_path / 'iter_2.pth'))
    assert checkpoint['meta']['iter'] == 2
    assert len(checkpoint['random_state']['ranks']) == 1


CLS = 'configs/autonl/toy/mobilenet-v2_toy-in1k.py'


def test_resume_through_train_py(toy_imagenet_root, tmp_path):
    """The same through tools/train.py: one warning line and a fallback for
    a truncated latest checkpoint; one error line when none is readable."""
    work = tmp_path / 'work'
    opts = cls_data_options(toy_imagenet_root) + [
        'train_dataloader.batch_size=8', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=5']
    run_tool(['tools/train.py', CLS, '--work-dir', str(work),
              '--cfg-options', *opts, 'train_cfg.max_epochs=2'])
    truncate(work / 'epoch_2.pth')
    proc = run_tool(['tools/train.py', CLS, '--work-dir', str(work),
                     '--resume', '--cfg-options', *opts,
                     'train_cfg.max_epochs=2'])
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines()
                if 'resuming from' in line]
    assert len(warnings) == 1 and 'epoch_2.pth' in warnings[0] and \
        'epoch_1.pth' in warnings[0], log[-3000:]
    assert 'resumed epoch: 1' in log
    assert read_checkpoint(str(work / 'epoch_2.pth'))['meta']['epoch'] == 2

    for name in ('epoch_1.pth', 'epoch_2.pth'):
        open(work / name, 'wb').close()
    proc = run_tool(['tools/train.py', CLS, '--work-dir', str(work),
                     '--resume', '--cfg-options', *opts,
                     'train_cfg.max_epochs=2'], check=False)
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert 'epoch_2.pth: empty file' in errors[0]
    assert 'no readable checkpoint' in errors[0]
