"""Expected MACs of the supernet (Eqn 15's CC(t)), by ``complexity.py``'s rules.

Every term is a MACs figure of a *decoded* block, taken from
``mbconv_macs`` / ``non_local_macs`` (the functions behind
``genotype_macs`` and ``get_flops.py``) on the genotype entry that the
block itself makes for a combination of candidates, weighted by the product
of the straight-through indicators that select it::

    MACs = stem + head + classifier
         + sum_b keep_b * ( BODY_b x_1 c_1 x_2 c_2 ...
                           + insert_b * NL_b x_1 r_b x_2 s_b )

``BODY_b`` has one axis per choice dimension of the block (part 'block':
kernel, expansion; see dimensions.py), ``NL_b`` one per choice dimension
of its LightNL (channel ratio, spatial stride), each contracted with that
dimension's one-hot indicator; the switch dimensions (keep, insert)
multiply their part. The indicators are exactly 0/1 in the forward pass, so
the value equals ``genotype_macs(supernet.decode())`` for any gate state
(the tests check it against mmengine's count too), and the gradient reaches
every threshold through the sigmoid relaxations. Spatial sizes do not
depend on the choices (only stride-1 blocks can be skipped), so the tables
are fixed for an input size.
"""
import itertools
import math

import torch

from ..models.utils.complexity import conv_macs, mbconv_macs, non_local_macs


def _axes(module, part):
    """(name, dimension) of ``module``'s choice dimensions of ``part``."""
    return [(name, dim) for name, dim in module.dims.items()
            if dim.field is not None and dim.part == part]


def _switches(module, part):
    return [name for name, dim in module.dims.items()
            if dim.field is None and dim.part == part]


def _table(axes, macs_of):
    """MACs of every combination of the axes' candidates, as a float64
    tensor with one axis per dimension."""
    values = [
        macs_of({dim.field: value
                 for (_, dim), value in zip(axes, combination)})
        for combination in itertools.product(
            *(dim.candidates for _, dim in axes))
    ]
    shape = [len(dim.candidates) for _, dim in axes]
    return torch.tensor(values, dtype=torch.float64).view(shape)


def _contract(table, axes, indicators):
    """``table`` contracted with the one-hot indicator of each axis, first
    axis first (for two axes: ``c_1 @ T @ c_2``)."""
    table = table.to(indicators[axes[0][0]].device) if axes else table
    for name, _ in axes:
        table = torch.tensordot(
            indicators[name].to(torch.float64), table, dims=1)
    return table


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
        self.blocks = []
        for block in supernet.blocks():
            # (the tables are built at once: the closures see this block)
            axes = _axes(block, 'block')
            body = _table(
                axes, lambda choices: mbconv_macs(
                    block.in_channels, block.genotype_entry(**choices), h,
                    w)[0]['total'])
            h, w = math.ceil(h / block.stride), math.ceil(w / block.stride)
            entry = dict(axes=axes, table=body,
                         switches=_switches(block, 'block'), non_local=None)
            nl = block.non_local
            if nl is not None:
                nl_axes = _axes(nl, 'non_local')
                entry['non_local'] = dict(
                    axes=nl_axes,
                    switches=_switches(nl, 'non_local'),
                    table=_table(
                        nl_axes, lambda choices: non_local_macs(
                            nl.genotype_entry(**choices), block.out_channels,
                            h, w)))
            self.blocks.append(entry)
        head = space['head_channels']
        self.fixed += conv_macs(supernet.out_channels[-2], head, 1, h, w)
        if num_classes:
            self.fixed += head * h * w + head * num_classes

    def block_macs(self, index, indicators):
        """Expected MACs of block ``index`` given its indicators."""
        block = self.blocks[index]
        macs = _contract(block['table'], block['axes'], indicators)
        nl = block['non_local']
        if nl is not None:
            nl_macs = _contract(nl['table'], nl['axes'], indicators)
            for name in nl['switches']:
                nl_macs = indicators[name].to(torch.float64) * nl_macs
            macs = macs + nl_macs
        for name in block['switches']:
            macs = indicators[name].to(torch.float64) * macs
        return macs

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
        return self.fixed + sum(
            block['table'].max().item() +
            (block['non_local']['table'].max().item()
             if block['non_local'] is not None else 0)
            for block in self.blocks)
