"""Analytic complexity of genotype networks, by the paper's counting rules.

Convs and FCs count their multiply-accumulates (no bias); SE counts its
global pool (one per input element) and its two FCs; a non-local block
counts what its class's ``macs`` rule says (LightNL: the cheaper matmul
order plus its depthwise conv); BN, activations and residual adds count
nothing. This is the convention behind the MACs of the paper's Tables 1
and 3, and what ``mmengine.analysis`` counts for the same modules once BN
is left out (the tests check both). The search's cost model and
``get_flops.py`` use these functions.
"""
import math

import torch
from mmengine.registry import MODELS

from .widths import hidden_channels, se_channels


def conv_macs(in_channels, out_channels, kernel_size, out_h, out_w,
              groups=1):
    """MACs of a conv producing an ``out_h x out_w`` map (bias not counted)."""
    return (in_channels // groups) * out_channels * kernel_size**2 * out_h * out_w


def se_macs(channels, squeeze_channels, h, w):
    """SE on a ``channels x h x w`` tensor: pool + two 1x1 convs."""
    return channels * h * w + 2 * channels * squeeze_channels


def non_local_macs(non_local, channels, h, w):
    """MACs of a genotype's ``non_local`` block on a ``channels x h x w``
    map: the ``macs`` rule of the registered class named by its ``type``.

    Args:
        non_local (dict, optional): ``dict(type=..., **args)``; None: 0.
    """
    if non_local is None:
        return 0
    args = {k: v for k, v in non_local.items() if k != 'type'}
    return MODELS.get(non_local['type']).macs(channels, h, w, **args)


def mbconv_macs(in_channels, block, h, w):
    """MACs of one MBConv block (a genotype ``blocks`` entry) on an
    ``h x w`` input.

    Returns:
        tuple[dict, int, int]: parts (``expand``, ``depthwise``, ``se``,
        ``project``, ``non_local``, ``total``), and the output height/width.
    """
    expand_ratio, stride = block['expand_ratio'], block['stride']
    hidden = hidden_channels(in_channels, expand_ratio)
    out_channels = block['out_channels']
    out_h, out_w = math.ceil(h / stride), math.ceil(w / stride)
    parts = dict(
        expand=conv_macs(in_channels, hidden, 1, h, w)
        if expand_ratio != 1 else 0,
        depthwise=conv_macs(hidden, hidden, block['kernel_size'], out_h,
                            out_w, groups=hidden),
        se=se_macs(hidden, se_channels(in_channels, block['se_ratio']),
                   out_h, out_w) if block['se_ratio'] > 0 else 0,
        project=conv_macs(hidden, out_channels, 1, out_h, out_w),
        non_local=non_local_macs(block['non_local'], out_channels, out_h,
                                 out_w))
    parts['total'] = sum(parts.values())
    return parts, out_h, out_w


def genotype_macs(genotype, input_size=(224, 224), num_classes=1000):
    """MACs of a (validated) genotype's classifier, by the paper's rules.

    Args:
        genotype (dict): a genotype as returned by ``load_genotype`` (and,
            for a width multiplier, ``widen_genotype``).
        input_size (tuple[int, int]): input H, W.
        num_classes (int): FC outputs; 0 leaves out pool and FC (backbone
            only, output stride 32).

    Returns:
        dict: ``stem``, ``blocks`` (list of per-block part dicts), ``head``,
        ``classifier`` and ``total``.
    """
    h, w = (math.ceil(s / 2) for s in input_size)
    in_channels = genotype['stem_channels']
    result = dict(stem=conv_macs(3, in_channels, 3, h, w), blocks=[])
    for block in genotype['blocks']:
        parts, h, w = mbconv_macs(in_channels, block, h, w)
        result['blocks'].append(parts)
        in_channels = block['out_channels']
    head = genotype['head_channels']
    result['head'] = conv_macs(in_channels, head, 1, h, w)
    result['classifier'] = (head * h * w + head * num_classes
                            if num_classes else 0)
    result['total'] = (result['stem'] + result['head'] + result['classifier']
                       + sum(b['total'] for b in result['blocks']))
    return result


def genotype_params(genotype, num_classes=1000, widen_factor=1.0):
    """Parameter count of a genotype's classifier (backbone + FC), counted
    on the built ``AutoNLNet``.

    The backbone is built on the meta device: no memory, no random numbers
    drawn (the search's hooks call this during training).
    """
    from ..backbones.autonl_net import AutoNLNet  # (backbones import utils)
    with torch.device('meta'):
        backbone = AutoNLNet(genotype, widen_factor=widen_factor)
    total = sum(p.numel() for p in backbone.parameters())
    if num_classes:
        total += (backbone.genotype['head_channels'] + 1) * num_classes
    return total
