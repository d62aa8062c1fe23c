"""What ``tools/train.py`` and ``tools/test.py`` share: config loading, clear
errors for bad invocations and inputs (checked before anything heavy is
built), the reliability parts every run gets (``ResumableCheckpointHook``,
the segmentation-map size check, the start-up data check), and the CPU
(gloo) distributed fixes that mmengine 0.10.7 lacks.

mmengine 0.10.7 breaks ``--launcher pytorch`` on a machine without CUDA in
three places, all handled here without touching site-packages:

1. ``init_dist`` calls ``torch.cuda.set_device`` unconditionally: we create
   the gloo process group ourselves first; the Runner then skips its init.
2. ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, which is
   only valid for CUDA modules: we set ``model_wrapper_cfg`` with
   ``device_ids=None``.
3. ``SyncBN`` has no CPU kernel: we turn every ``SyncBN`` norm config into
   ``BN`` (each process normalises its own batch, as DDP on CPU would).

On a CUDA machine none of this applies and the configs run unchanged (nccl).

A gloo run must also end cleanly. A worker thread of gloo frees each
finished collective, and with it the Python tensors of e.g. MMEngine's last
``broadcast_object_list``; it needs the GIL for that. When the main thread
reaches interpreter finalisation first, the worker's GIL request ends the
thread inside a C++ destructor: "terminate called without an active
exception", SIGABRT, a failed run after training had finished (5 of 53
two-process CPU runs here, 4 of 43 of them with ``destroy_process_group``
at exit alone; 0 of 40 with the barrier). So a finished ``tools/train.py``
or ``tools/test.py`` calls :func:`finish_distributed` (a barrier, which
releases the GIL to those threads while every process arrives, then
``destroy_process_group``), and every distributed run destroys the group
from an ``atexit`` handler (an error exit skips the barrier: the other
processes may never reach it).
"""
import atexit
import os
import os.path as osp
import time

import torch

from .checkpoint import CheckpointError, read_checkpoint
from .cli import InvocationError, fail, one_line  # noqa: F401  (tools use)


def load_config(path, cfg_options=None):
    """Load an MMEngine config with a one-line error if it is missing."""
    from mmengine.config import Config
    if not osp.isfile(path):
        fail(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except Exception as e:  # noqa: B902  (syntax errors, missing bases...)
        fail(f'{path}: cannot read the config: {type(e).__name__}: '
             f'{one_line(e)}')
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            fail(f'--cfg-options: {one_line(e)}')
    return cfg


def config_scope(cfg):
    """'mmseg' or 'mmpretrain', read from the config's default_scope."""
    scope = cfg.get('default_scope', None)
    if scope not in ('mmseg', 'mmpretrain'):
        fail(f"config default_scope must be 'mmseg' or 'mmpretrain', got "
             f'{scope!r}')
    return scope


def _dataset_roots(dataset):
    """Yield (data_root, ann_file) of a dataset config, through wrappers."""
    if not isinstance(dataset, dict):
        return
    for key in ('dataset', ):
        yield from _dataset_roots(dataset.get(key))
    for sub in dataset.get('datasets', []) or []:
        yield from _dataset_roots(sub)
    if 'data_root' in dataset or 'ann_file' in dataset:
        yield dataset.get('data_root', ''), dataset.get('ann_file', '')


DATA_HELP = {
    'mmseg': ('prepare it as in README.md "Data preparation" (real VOC 2012 '
              '+ SBD aug), or make the toy set with: python '
              'tools/dataset_converters/make_toy_voc.py'),
    'mmpretrain': ('prepare it as in README.md "Data preparation" (ImageNet), '
                   'or make the toy set with: python '
                   'tools/dataset_converters/make_toy_imagenet.py'),
}


def check_data_roots(cfg, loaders):
    """Fail with one line naming the missing data path and how to make it."""
    scope = config_scope(cfg)
    for loader in loaders:
        loader_cfg = cfg.get(loader, None)
        if not loader_cfg:
            continue
        for root, ann_file in _dataset_roots(loader_cfg.get('dataset')):
            if root and not osp.isdir(root):
                fail(f'data root {root!r} ({loader}) does not exist; '
                     f'{DATA_HELP[scope]}')
            if ann_file:
                path = ann_file if osp.isabs(ann_file) else osp.join(
                    root or '', ann_file)
                if not osp.exists(path):
                    fail(f'annotation file {path!r} ({loader}) does not '
                         f'exist; {DATA_HELP[scope]}')


def check_checkpoint(path, what='checkpoint'):
    """Fail with one line if a local checkpoint is missing or unreadable
    (empty, truncated, refused by the weights-only unpickler)."""
    if not path or '://' in str(path):
        return
    if not osp.exists(path):
        fail(f'{what} not found: {path}')
    try:
        read_checkpoint(str(path))
    except CheckpointError as e:
        raise CheckpointError(f'{what} {e}') from None


def _pretrained_checkpoints(node, where):
    """Yield (field, path) of every ``Pretrained`` init_cfg checkpoint."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        for i, init in enumerate(
                init_cfg if isinstance(init_cfg, (list, tuple)) else
            [init_cfg]):
            if isinstance(init, dict) and init.get('type') == 'Pretrained' \
                    and isinstance(init.get('checkpoint'), str):
                field = f'{where}.init_cfg' + (
                    f'.{i}' if isinstance(init_cfg, (list, tuple)) else '')
                yield f'{field}.checkpoint', init['checkpoint']
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _pretrained_checkpoints(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_checkpoints(value, f'{where}.{i}')


def check_pretrained(cfg):
    """One line for a ``Pretrained`` init_cfg whose local checkpoint is
    missing or unreadable, naming the config field."""
    for field, path in _pretrained_checkpoints(cfg.get('model'), 'model'):
        check_checkpoint(path, field)


def use_resumable_checkpoints(cfg):
    """Every run writes checkpoints with ResumableCheckpointHook (atomic,
    with random states, exact and validated resume); our configs name it,
    this covers the others."""
    from mmengine.hooks import CheckpointHook
    hooks = cfg.get('default_hooks', None)
    checkpoint = hooks.get('checkpoint') if hooks else None
    if isinstance(checkpoint, dict) and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook', CheckpointHook):
        checkpoint['type'] = 'ResumableCheckpointHook'


def check_seg_map_sizes(cfg):
    """Put CheckSegMapSize after every LoadAnnotations of the segmentation
    dataloaders' pipelines: a mask whose size differs from its image's is
    an error naming the file, never silently resized or cropped."""
    if cfg.get('default_scope') != 'mmseg':
        return
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for dataset in _datasets(cfg.get(loader, None) or {}):
            pipeline = dataset.get('pipeline') or []
            types = [str(step.get('type', '')).split('.')[-1]
                     if isinstance(step, dict) else None for step in pipeline]
            for i in reversed(range(len(pipeline))):
                if types[i] == 'LoadAnnotations' and \
                        types[i + 1:i + 2] != ['CheckSegMapSize']:
                    pipeline.insert(i + 1, dict(type='CheckSegMapSize'))


def _datasets(loader_cfg):
    """The dataset configs of a dataloader config, through wrappers."""
    stack = [loader_cfg.get('dataset')]
    while stack:
        dataset = stack.pop()
        if not isinstance(dataset, dict):
            continue
        if 'pipeline' in dataset:
            yield dataset
        stack.append(dataset.get('dataset'))
        stack.extend(dataset.get('datasets', []) or [])


def check_datasets(runner, loaders=('train_dataloader', 'val_dataloader')):
    """The start-up data check of tools/train.py: listed files exist and
    masks have their image's size (headers only, a few seconds at most)."""
    from mmengine.logging import print_log

    from ..datasets.checks import STARTUP_CHECK_SECONDS, check_dataset_quickly
    budget = STARTUP_CHECK_SECONDS
    for loader in loaders:
        try:  # builds the dataloader (the runner keeps it for training)
            dataset = getattr(runner, loader).dataset
        except ValueError as e:  # e.g. persistent_workers with 0 workers
            raise ValueError(f'{loader}: {e}') from e
        start = time.monotonic()
        checked, total = check_dataset_quickly(dataset, loader, budget,
                                               runner.cfg.filename)
        budget -= time.monotonic() - start
        if checked < total:
            print_log(f'start-up data check: {checked} of {total} samples of '
                      f'{loader} checked within {STARTUP_CHECK_SECONDS:g} s; '
                      'check all with: python tools/misc/check_dataset.py '
                      f'{runner.cfg.filename}', logger='current')
        if budget <= 0:
            return


def _replace_syncbn(node):
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for value in node.values():
            _replace_syncbn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_syncbn(value)


def destroy_process_group():
    """Destroy the default process group if there is one (at exit)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def finish_distributed():
    """End a finished distributed run on every process: a barrier, then
    destroy the process group (see the module docstring). Nothing to do
    without one."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        destroy_process_group()


def setup_distributed(cfg, launcher):
    """Make ``--launcher pytorch`` work on CPU-only machines (gloo), and
    destroy the process group at exit (whoever created it)."""
    cfg.launcher = launcher
    if launcher == 'none':
        return
    atexit.unregister(destroy_process_group)  # once, however often called
    atexit.register(destroy_process_group)
    if torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        fail(f'launcher {launcher!r} needs CUDA; on a CPU machine use '
             "--launcher pytorch (tools/dist_train.sh)")
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    _replace_syncbn(cfg.model)
    cfg.sync_bn = None
    cfg.env_cfg = dict(cfg.get('env_cfg', {}))
    cfg.env_cfg['dist_cfg'] = dict(backend='gloo')


def use_fast_gpu_training(cfg):
    """``tools/train.py --amp``: mixed precision in bf16 (fp16 with dynamic
    loss scaling on GPUs without bf16) and channels-last memory format
    (``ChannelsLastHook``) unless the config sets ``channels_last = False``.

    MMEngine's own ``--amp`` (fp16, NCHW) is slower than fp32 for our
    depthwise-conv networks on an H100: cuDNN's NCHW depthwise path; bf16 +
    channels-last was 2.6x faster than fp32 (issue 10). bf16 has float32's
    exponent range, so it needs no loss scaling. MMEngine's
    ``AmpOptimWrapper`` has no CPU mode: without CUDA this stops with one
    line.
    """
    import logging

    from mmengine.logging import print_log
    if not torch.cuda.is_available():
        # mmengine's AmpOptimWrapper has no CPU mode (it asserts)
        fail('--amp needs a CUDA GPU; none is available, train without '
             '--amp')
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current', level=logging.WARNING)
    elif optim_wrapper != 'OptimWrapper':
        fail('--amp only works with optim_wrapper type OptimWrapper, '
             f'the config has {optim_wrapper}')
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        if torch.cuda.is_bf16_supported():
            cfg.optim_wrapper.dtype = 'bfloat16'
            cfg.optim_wrapper.loss_scale = dict(enabled=False)
        else:
            cfg.optim_wrapper.dtype = 'float16'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if cfg.get('channels_last', True):
        hooks = cfg.get('custom_hooks', None) or []
        if not any(isinstance(h, dict) and str(h.get('type', '')).endswith(
                'ChannelsLastHook') for h in hooks):
            cfg.custom_hooks = list(hooks) + [dict(type='ChannelsLastHook')]


def set_local_rank(local_rank):
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)


def build_runner(cfg):
    """The config's Runner, with a quiet console (``console.py``) and the
    genotype written into every checkpoint (``GenotypeMetaHook``, for
    configs that do not list it)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .console import build_quiet_runner
    hooks = [h.get('type') for h in (cfg.get('default_hooks') or {}).values()
             if isinstance(h, dict)]
    hooks += [h.get('type') for h in cfg.get('custom_hooks') or []]
    if 'GenotypeMetaHook' not in hooks:
        cfg.setdefault('default_hooks', {})['genotype'] = dict(
            type='GenotypeMetaHook')
    runner_cls = RUNNERS.get(cfg.runner_type) if 'runner_type' in cfg \
        else Runner
    return build_quiet_runner(cfg, runner_cls)
