"""Expected MACs of the supernet (Eqn 15's CC(t)), by ``complexity.py``'s rules.

Every term is a MACs figure of a *decoded* block, taken from
``mbconv_macs`` / ``light_nl_macs`` (the functions behind ``genotype_macs``
and ``get_flops.py``), weighted by the product of the straight-through
one-hot indicators that select it::

    MACs = stem + head + classifier
         + sum_b keep_b * ( kernel_b^T  BODY_b  expand_b
                           + light_nl_b * ratio_b^T  NL_b  stride_b )

``BODY_b[k, e]`` is the block without LightNL for kernel k and expansion e,
``NL_b[r, s]`` the LightNL for channel ratio r and spatial stride s. The
indicators are exactly 0/1 in the forward pass, so the value equals
``genotype_macs(supernet.decode())`` for any gate state (the tests check it
against mmengine's count too), and the gradient reaches every threshold
through the sigmoid relaxations. Spatial sizes do not depend on the choices
(only stride-1 blocks can be skipped), so the tables are fixed for an input
size.
"""
import math

import torch

from ..models.plugins.light_nl import light_nl_macs
from ..models.utils.complexity import conv_macs, mbconv_macs


class SearchCostModel:
    """Differentiable MACs of an ``AutoNLSuperNet`` classifier.

    Args:
        supernet (AutoNLSuperNet): The supernet.
        input_size (int | tuple[int, int]): Input H, W the MACs refer to.
            Default: 224.
        num_classes (int): FC outputs; 0 counts the backbone (to the head
            conv) only. Default: 1000.
    """

    def __init__(self, supernet, input_size=224, num_classes=1000):
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        self.input_size = tuple(input_size)
        self.num_classes = num_classes
        space = supernet.space
        h, w = (math.ceil(s / 2) for s in self.input_size)
        self.fixed = conv_macs(3, space['stem_channels'], 3, h, w)
        self.body_tables, self.light_nl_tables = [], []
        for block in supernet.blocks():
            body = [[
                mbconv_macs(block.in_channels, block.out_channels, e, k,
                            block.stride, block.se_ratio, None, h,
                            w)[0]['total'] for e in block.expand_ratios
            ] for k in block.kernel_sizes]
            self.body_tables.append(torch.tensor(body, dtype=torch.float64))
            h, w = math.ceil(h / block.stride), math.ceil(w / block.stride)
            nl = None
            if block.light_nl is not None:
                nl = torch.tensor([[
                    light_nl_macs(block.out_channels, h, w, r, s)
                    for s in block.light_nl.spatial_strides
                ] for r in block.light_nl.channel_ratios],
                                  dtype=torch.float64)
            self.light_nl_tables.append(nl)
        head = space['head_channels']
        self.fixed += conv_macs(supernet.out_channels[-2], head, 1, h, w)
        if num_classes:
            self.fixed += head * h * w + head * num_classes

    def block_macs(self, index, indicators):
        """Expected MACs of block ``index`` given its indicators."""
        body = self.body_tables[index]
        kernel = indicators['kernel'].to(torch.float64)
        expand = indicators['expand'].to(torch.float64)
        body = body.to(kernel.device)
        macs = kernel @ body @ expand
        nl = self.light_nl_tables[index]
        if nl is not None:
            ratio = indicators['channel_ratio'].to(torch.float64)
            stride = indicators['spatial_stride'].to(torch.float64)
            macs = macs + indicators['light_nl'].to(torch.float64) * (
                ratio @ nl.to(ratio.device) @ stride)
        return indicators['keep'].to(torch.float64) * macs

    def expected_macs(self, indicators):
        """Total MACs (float64 scalar tensor) from ``supernet.indicators()``.
        """
        total = sum(
            self.block_macs(i, ind) for i, ind in enumerate(indicators))
        return total + self.fixed

    def __call__(self, supernet):
        return self.expected_macs(supernet.indicators())

    def max_macs(self):
        """MACs of the largest network of the space."""
        total = self.fixed + sum(t.max().item() for t in self.body_tables)
        return total + sum(
            t.max().item() for t in self.light_nl_tables if t is not None)
