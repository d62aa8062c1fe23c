"""Helpers shared by the search tests."""
import math

import torch

from autonl_mmseg.search import (SearchableLightNL, SearchableMBConv,
                                 ThresholdGate)


def tiny_space():
    """A 4-stage space with small channels for fast tests."""
    return dict(
        stem_channels=8,
        head_channels=64,
        stages=[
            dict(out_channels=8, num_blocks=1, stride=1, kernel_sizes=(3, ),
                 expand_ratios=(1, ), light_nl=False),
            dict(out_channels=16, num_blocks=2, stride=2),
            dict(out_channels=24, num_blocks=3, stride=2, se_ratio=0.25),
            dict(out_channels=32, num_blocks=1, stride=1, se_ratio=0.25),
        ])


ON, OFF = -100., 100.  # log thresholds: any weight gate on / off


def randomise_state(model, rng, skip_probability=0.5):
    """Random hard state: every gate on or off, random LightNL EMAs and
    distance thresholds."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, SearchableMBConv):
                weight = module.depthwise_conv.conv.weight
                weight.mul_(torch.empty_like(weight).uniform_(0.5, 1.5))
                for name in ('kernel_size', 'expand_ratio', 'se_ratio'):
                    if name in module.dims:
                        for gate in module.dims[name].gates:
                            gate.threshold.fill_(rng.choice([ON, OFF]))
                if 'keep' in module.dims:
                    off = rng.random() < skip_probability
                    module.dims['keep'].gate.threshold.fill_(
                        OFF if off else ON)
            if isinstance(module, SearchableLightNL):
                dims = module.dims
                dims['insert'].gate.threshold.fill_(rng.choice([ON, OFF]))
                n_r = len(module.channel_ratios)
                n_s = len(module.spatial_strides)
                module.channel_distance_ema.copy_(
                    torch.tensor([rng.random() for _ in range(n_r)]))
                module.spatial_distance_ema.copy_(
                    torch.tensor([rng.random() for _ in range(n_s)]))
                module.num_ema_updates.fill_(1)
                dims['channel_ratio'].gate.threshold.fill_(
                    math.log(rng.random()))
                dims['spatial_stride'].gate.threshold.fill_(
                    math.log(rng.random()))
    return model


def thresholds(model):
    return {
        name: m.threshold.detach().clone()
        for name, m in model.named_modules() if isinstance(m, ThresholdGate)
    }
