"""Analytic complexity of genotype networks, by the paper's counting rules.

Convs and FCs count their multiply-accumulates (no bias); SE counts its
global pool (one per input element) and its two FCs; LightNL counts the
cheaper matmul order plus its depthwise conv; BN, activations and residual
adds count nothing. These are the rules behind the paper's MACs (facts file)
and what ``mmengine.analysis`` counts for the same modules once BN is left
out. The search's cost model and ``get_flops.py`` both use these functions.
"""
import math

from ..plugins.light_nl import light_nl_macs


def conv_macs(in_channels, out_channels, kernel_size, out_h, out_w,
              groups=1):
    """MACs of a conv producing an ``out_h x out_w`` map (bias not counted)."""
    return (in_channels // groups) * out_channels * kernel_size**2 * out_h * out_w


def se_macs(channels, squeeze_channels, h, w):
    """SE on a ``channels x h x w`` tensor: pool + two 1x1 convs."""
    return channels * h * w + 2 * channels * squeeze_channels


def mbconv_macs(in_channels, out_channels, expand_ratio, kernel_size, stride,
                se_ratio, light_nl, h, w):
    """MACs of one MBConv block on an ``h x w`` input.

    Returns:
        tuple[dict, int, int]: parts (``expand``, ``depthwise``, ``se``,
        ``project``, ``light_nl``, ``total``), and the output height/width.
    """
    hidden = int(round(in_channels * expand_ratio))
    out_h, out_w = math.ceil(h / stride), math.ceil(w / stride)
    parts = dict(
        expand=conv_macs(in_channels, hidden, 1, h, w)
        if expand_ratio != 1 else 0,
        depthwise=conv_macs(hidden, hidden, kernel_size, out_h, out_w,
                            groups=hidden),
        se=se_macs(hidden, max(1, int(in_channels * se_ratio)), out_h, out_w)
        if se_ratio > 0 else 0,
        project=conv_macs(hidden, out_channels, 1, out_h, out_w),
        light_nl=light_nl_macs(out_channels, out_h, out_w,
                               light_nl['channel_ratio'],
                               light_nl['spatial_stride'])
        if light_nl else 0)
    parts['total'] = sum(parts.values())
    return parts, out_h, out_w


def genotype_macs(genotype, input_size=(224, 224), num_classes=1000):
    """MACs of a (validated) genotype's classifier, by the paper's rules.

    Args:
        genotype (dict): a genotype as returned by ``load_genotype``.
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
        parts, h, w = mbconv_macs(in_channels, block['out_channels'],
                                  block['expand_ratio'],
                                  block['kernel_size'], block['stride'],
                                  block['se_ratio'], block['light_nl'], h, w)
        result['blocks'].append(parts)
        in_channels = block['out_channels']
    head = genotype['head_channels']
    result['head'] = conv_macs(in_channels, head, 1, h, w)
    result['classifier'] = (head * h * w + head * num_classes
                            if num_classes else 0)
    result['total'] = (result['stem'] + result['head'] + result['classifier']
                       + sum(b['total'] for b in result['blocks']))
    return result


def genotype_params(genotype, num_classes=1000, with_bn=True):
    """Parameter count of a genotype's classifier (a hand count that the
    tests compare with the built module)."""
    def bn(c):
        return 2 * c if with_bn else 0

    in_channels = genotype['stem_channels']
    total = 3 * in_channels * 9 + bn(in_channels)
    for block in genotype['blocks']:
        hidden = int(round(in_channels * block['expand_ratio']))
        out = block['out_channels']
        if block['expand_ratio'] != 1:
            total += in_channels * hidden + bn(hidden)
        total += hidden * block['kernel_size']**2 + bn(hidden)
        if block['se_ratio'] > 0:
            sq = max(1, int(in_channels * block['se_ratio']))
            total += hidden * sq + sq + sq * hidden + hidden
        total += hidden * out + bn(out)
        if block['light_nl']:
            total += out * 9 + bn(out)
        in_channels = out
    head = genotype['head_channels']
    total += in_channels * head + bn(head)
    if num_classes:
        total += head * num_classes + num_classes
    return total
