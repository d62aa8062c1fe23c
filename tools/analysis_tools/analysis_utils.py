# Copyright (c) autonl_mmseg contributors.
"""What the analysis tools (benchmark.py, benchmark_search.py, get_flops.py)
share: building a model from a config, calling an OpenMMLab model in tensor
mode, timing, and the pass/fail targets they report."""
import os.path as osp
import sys
import time

import torch
from torch import nn

ROOT = osp.abspath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, ROOT)  # this checkout's package, whatever is installed

import autonl_mmseg  # noqa: F401,E402  (registers our modules)

#: The targets the tools check, in one place (CPU figures).
TARGETS = dict(
    # benchmark.py: MobileNetV2-LightNL latency / MobileNetV2 latency
    mobilenet_lightnl_latency_ratio=1.10,
    # benchmark.py: NonLocal2d latency / LightNL latency at 56x56x24
    light_nl_speedup=50.0,
    # benchmark_search.py: searchable LightNL, all channel-ratio candidates
    # vs one candidate (Eqn 14's reuse)
    search_ratio_candidates_cost=1.2,
)


class TensorMode(nn.Module):
    """Call an OpenMMLab model as ``model(x, mode='tensor')`` (no data
    samples), so that FLOP counters and timers can call it with a tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x, mode='tensor')


def build_model_from_config(config, cfg_options=None, syncbn_to_bn=True,
                            checkpoint=None):
    """The model of one of our configs, in the config's default scope.

    Args:
        config (str | Config): Config path or a loaded config.
        cfg_options (dict, optional): Overrides (``--cfg-options``).
        syncbn_to_bn (bool): Turn SyncBN into BN: SyncBN has no CPU kernel
            and needs a process group; in eval mode both compute the same.
            Default: True.
        checkpoint (str, optional): Weights to load (strictly, with
            MMEngine's ``load_checkpoint``, ``weights_only`` reading); a
            missing or unreadable file stops with one line. Default: None.
    """
    from mmengine.registry import MODELS, DefaultScope

    from mmengine.config import Config

    from autonl_mmseg.engine.launch import (_replace_syncbn, check_pretrained,
                                            config_scope, load_config)
    cfg = config if isinstance(config, Config) else load_config(
        config, cfg_options)
    check_pretrained(cfg)
    if syncbn_to_bn:
        _replace_syncbn(cfg.model)
    scope = config_scope(cfg)
    # only for the build: the caller's default scope stays current (a
    # process that builds models of both toolboxes, like the tests, must
    # not find the last one's scope left behind)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        from mmengine.runner import load_checkpoint

        from autonl_mmseg.engine.launch import check_checkpoint
        check_checkpoint(checkpoint)
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    return model


def synchronize(device):
    """Wait for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_per_call(fn, device, calls=1):
    """Seconds per call of ``fn()`` over ``calls`` consecutive calls."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / calls
