"""Shared fixtures: the repository root, tiny toy datasets, a tool runner."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


@pytest.fixture(scope='session')
def toy_voc_root(tmp_path_factory):
    """A tiny toy VOC (8 train / 4 val images); returns the VOC2012 dir."""
    import make_toy_voc
    out = tmp_path_factory.mktemp('toy_voc')
    make_toy_voc.main(['--out', str(out), '--num-train', '8', '--num-val',
                       '4'])
    return out / 'VOCdevkit' / 'VOC2012'


@pytest.fixture(scope='session')
def toy_imagenet_root(tmp_path_factory):
    """A tiny toy ImageNet (6 classes x 4 train / 2 val images, 48 px)."""
    import make_toy_imagenet
    out = tmp_path_factory.mktemp('toy_imagenet')
    make_toy_imagenet.main(['--out', str(out), '--num-train-per-class', '4',
                            '--num-val-per-class', '2', '--size', '48'])
    return out


def seg_data_options(voc_root):
    return [f'{loader}.dataset.data_root={voc_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]


def cls_data_options(imagenet_root):
    return [f'{loader}.dataset.data_root={imagenet_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')] + [
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0']


def run_tool(args, timeout=600, env=None, check=True):
    """Run a command from the repo root; return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    full_env.update(env or {})
    cmd = [sys.executable, *args] if args[0].endswith('.py') else list(args)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(cmd)} exited {proc.returncode}\n--- stdout ---\n'
            f'{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc
