"""Channel widths of MBConv networks, in one place: the hidden and SE
widths of a block, and the width multiplier of a whole network.

The modules (``MBConv``, the search's superkernel block), the analytic
MACs (``complexity.py``) and the width multiplier all use these functions,
so a width can never be computed two ways.
"""
import copy

from mmpretrain.models.utils import make_divisible


def hidden_channels(in_channels, expand_ratio):
    """Width of an MBConv block's expanded tensor: ``round(C_in e)``."""
    return int(round(in_channels * expand_ratio))


def se_channels(in_channels, se_ratio):
    """Squeeze width of an SE layer: ``max(1, int(C_in se_ratio))`` of the
    block's INPUT channels (as the reference networks define it)."""
    return max(1, int(in_channels * se_ratio))


def widen_genotype(genotype, widen_factor=1.0):
    """A genotype with every width scaled by ``widen_factor``.

    MMPretrain's ``MobileNetV2(widen_factor=...)`` rule, for any genotype:
    the stem and every block's output channels become ``make_divisible(c *
    widen_factor, 8)``; the head conv grows to ``int(c * widen_factor)``
    only when ``widen_factor > 1``. Hidden and SE widths follow from the
    block's (scaled) input channels. For the ``mobilenet-v2`` genotype the
    result has MMPretrain's widths exactly, so its checkpoints load.

    Args:
        genotype (dict): A validated genotype (not modified).
        widen_factor (float): Width multiplier. Default: 1.0 (returns the
            genotype unchanged, even where a width is not a multiple of 8).

    Returns:
        dict: The scaled genotype (a copy).
    """
    if not widen_factor > 0:
        raise ValueError(f'widen_factor must be > 0, got {widen_factor!r}')
    genotype = copy.deepcopy(genotype)
    if widen_factor == 1.0:
        return genotype
    genotype['stem_channels'] = make_divisible(
        genotype['stem_channels'] * widen_factor, 8)
    for block in genotype['blocks']:
        block['out_channels'] = make_divisible(
            block['out_channels'] * widen_factor, 8)
    if widen_factor > 1.0:
        genotype['head_channels'] = int(genotype['head_channels'] *
                                        widen_factor)
    return genotype
