"""Shared fixtures: the repository root, tiny toy datasets, a tool runner,
toy runs of tools/train.py."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The package of THIS checkout, whatever the environment holds (an editable
# install may point at another clone); tools run by run_tool get it through
# PYTHONPATH (their own sys.path insert does the same for our tools; the
# upstream tools need it for custom_imports).
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))


def trained_norms(model, seed=0):
    """Give every norm of ``model`` statistics and affine parameters as
    after training (none trivial; LightNL's zero-initialised gamma no longer
    zero, else a fold that ignored the LightNL branch would pass); returns
    the model in eval mode."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            c = module.num_features
            module.weight.data = torch.rand(c, generator=generator) + 0.5
            module.bias.data = torch.rand(c, generator=generator) - 0.5
            module.running_mean = torch.rand(c, generator=generator) - 0.5
            module.running_var = torch.rand(c, generator=generator) + 0.5
    return model.eval()


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
    full_env['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    full_env.update(env or {})
    cmd = [sys.executable, *args] if args[0].endswith('.py') else list(args)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(cmd)} exited {proc.returncode}\n--- stdout ---\n'
            f'{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


# Toy runs of tools/train.py shared by the tool tests: a DeepLabV3 +
# MobileNetV2 segmentor (2 iterations) and the MobileNetV2 / MobileNetV2-
# LightNL classifiers (1 epoch of 3 iterations), each with its work dir,
# checkpoint and the terminal output of its training.
SEG_CONFIG = 'configs/autonl/toy/deeplabv3_mobilenet-v2_toy-voc.py'
CLS_CONFIGS = {
    'mobilenet-v2': 'configs/autonl/toy/mobilenet-v2_toy-in1k.py',
    'mobilenet-v2-lightnl':
    'configs/autonl/toy/mobilenet-v2-lightnl_toy-in1k.py',
}
SINGLE_THREAD = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def seg_test_options(voc_root):
    """Data root, main-process loading, batch 2."""
    return seg_data_options(voc_root) + [
        f'{loader}.{key}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
        for key in ('num_workers=0', 'persistent_workers=False')
    ] + ['train_dataloader.batch_size=2']


def train_toy(config, work_dir, options):
    proc = run_tool(['tools/train.py', config, '--work-dir', str(work_dir),
                     '--cfg-options', *options], env=SINGLE_THREAD)
    checkpoint = (work_dir / 'last_checkpoint').read_text().strip()
    return SimpleNamespace(config=config, work_dir=work_dir,
                           checkpoint=Path(checkpoint),
                           output=proc.stdout + proc.stderr)


@pytest.fixture(scope='session')
def seg_run(toy_voc_root, tmp_path_factory):
    """2 iterations; the LoggerHook's interval (20) left as configured."""
    return train_toy(SEG_CONFIG, tmp_path_factory.mktemp('seg_run'),
                     seg_test_options(toy_voc_root) + [
                         'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                         'default_hooks.checkpoint.interval=2'])


@pytest.fixture(scope='session')
def cls_runs(toy_imagenet_root, tmp_path_factory):
    """{genotype: run}, 1 epoch each."""
    options = cls_data_options(toy_imagenet_root) + [
        'train_dataloader.batch_size=8', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1']
    return {name: train_toy(config, tmp_path_factory.mktemp(name), options)
            for name, config in CLS_CONFIGS.items()}
