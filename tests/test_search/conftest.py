"""Fixtures of the search tests: one toy search run through
tools/train.py, shared by the end-to-end tests. The toy datasets are the
session fixtures of tests/conftest.py (``toy_imagenet_root``: 6 classes x 4
train images, ``toy_voc_root``)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SEARCH_CFG = 'configs/autonl/toy/autonl_search_toy-in1k.py'
# 6 classes x 4 images, batch 8: 3 iterations per epoch, 18 in all
SEARCH_EPOCHS = 6
INTERRUPT_EPOCH = 3
# One thread: on small tensors OpenMP's synchronisation costs more than it
# saves on this 2-core machine (10-50x slower steps with 2 threads).
SINGLE_THREAD = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_script(relative):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(
        '_search_test_' + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, timeout=1800):
    """Run a repository tool with this interpreter from the repository
    root; fail with its output on a non-zero exit."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', **SINGLE_THREAD)
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=env)
    if proc.returncode != 0:
        pytest.fail(f'{args[:2]} exited {proc.returncode}\n'
                    f'--- stdout ---\n{proc.stdout[-4000:]}\n'
                    f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def search_options(data_root, max_epochs=SEARCH_EPOCHS):
    """--cfg-options of the small toy search of the tests: 32 px crops,
    batch 8, warm-up in iterations (independent of max_epochs, so an
    interrupted run has the same schedule), no lr warm-up, a large lambda
    and a small calibration margin so that 13 iterations of search
    decide something."""
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=8',
        'val_dataloader.batch_size=8',
        'train_dataloader.dataset.pipeline.1.crop_size=32',
        'val_dataloader.dataset.pipeline.1.scale=36',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'val_dataloader.dataset.pipeline.2.crop_size=32',
        f'train_cfg.max_epochs={max_epochs}',
        f'train_cfg.val_interval={SEARCH_EPOCHS}',
        'model.cost_warmup=5',
        'model.cost_weight=5.0',
        'model.backbone.gate_cfg.init_margin=0.02',
        'param_scheduler.0.start_factor=1.0',
        f'param_scheduler.1.end={SEARCH_EPOCHS}',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=10',
        'custom_hooks.0.interval=10',
    ]
    return options


@pytest.fixture(scope='session')
def search_work_dir(tmp_path_factory, toy_imagenet_root):
    """An uninterrupted toy search through tools/train.py."""
    work_dir = tmp_path_factory.mktemp('search_full')
    run_tool([
        'tools/train.py', SEARCH_CFG, '--work-dir', work_dir,
        '--cfg-options', *search_options(toy_imagenet_root)
    ])
    return work_dir
