"""A Single-Path NAS superkernel MBConv block with a searchable LightNL.

One set of weights holds every choice of the block: it is the ``MBConv``
of the largest kernel and expansion, built by ``MBConv``'s constructor.
Its dimensions (dimensions.py) choose

- the kernel: a ``k_max x k_max`` depthwise kernel whose centred ``k x k``
  part is the kernel-``k`` choice;
- the expansion: the first ``round(C_in e)`` hidden channels are the
  expansion-``e`` choice. The unused channels are zeroed after the
  depthwise conv + BN + activation, so SE and the projection see exactly
  the smaller block;
- the SE ratio (when ``se_ratios`` has several candidates): the SE layer
  of the largest ratio, whose first ``se_channels(C_in, r)`` squeeze
  channels are the ratio-``r`` choice; ratio 0 bypasses SE;
- the skip (``skippable`` blocks: stride 1, in == out, not first of a
  stage): when it is off the block's output is its input (its LightNL goes
  with it). The expansion gates then no longer matter.

The weight scores are mean squares (``||w||^2`` divided by the number of
entries), compared in the log domain (gates.py). The dimensions are
evaluated in the order kernel -> expansion -> SE -> skip, each score using
the kernel (and hidden channels) chosen before it (straight-through, so the
gradients follow the nesting).
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..models.utils.mbconv import MBConv
from .dimensions import ExpandRatio, KernelSize, SERatio, Skip


class SearchableMBConv(MBConv):
    """Superkernel inverted-residual block: expand 1x1 -> depthwise
    (searchable kernel, expansion) -> (SE) -> project 1x1 -> (searchable
    LightNL) -> (+ input), optionally skippable.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise conv (1 or 2).
        kernel_sizes (Sequence[int]): Kernel candidates. Default: (3, 5).
        expand_ratios (Sequence[float]): Expansion candidates; ``(1, )``
            means no expansion conv. Default: (3, 6).
        dilation (int): Dilation of the depthwise conv. Default: 1.
        se_ratios (float | Sequence[float]): SE ratio candidates (squeeze
            width max(1, int(in_channels * r)); 0 = no SE); one value: SE
            fixed, not searched. Default: 0.
        skippable (bool): Whether the block may be skipped. Default: False.
        non_local (dict, optional): Config of the searchable non-local
            block, e.g. ``dict(type='SearchableLightNL', channel_ratios=...,
            spatial_strides=...)``, or None for no LightNL candidate.
            Default: None.
        gate_cfg (dict): ``ThresholdGate`` arguments of the kernel,
            expansion and skip gates.
            Default: dict() (``ThresholdGate``'s defaults).
        conv_cfg (dict, optional): Config of conv layers. Default: None.
        norm_cfg (dict): Config of norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of activations. Default: dict(type='Swish').
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 stride,
                 kernel_sizes=(3, 5),
                 expand_ratios=(3, 6),
                 dilation=1,
                 se_ratios=0,
                 skippable=False,
                 non_local=None,
                 gate_cfg=dict(),
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='Swish'),
                 init_cfg=None):
        kernel = KernelSize(kernel_sizes, gate_cfg)
        expand = ExpandRatio(in_channels, expand_ratios, gate_cfg)
        if isinstance(se_ratios, (int, float)):
            se_ratios = (se_ratios, )
        se = SERatio(in_channels, se_ratios, gate_cfg)
        # (no gradient checkpointing: a recomputed forward would update the
        # LightNL distance EMAs twice)
        super().__init__(
            in_channels,
            out_channels,
            stride,
            expand.candidates[-1],
            kernel.candidates[-1],
            dilation=dilation,
            se_ratio=se.candidates[-1],
            non_local=non_local,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=init_cfg)
        if skippable and not self.use_res_connect:
            raise ValueError('only a block with stride 1 and in_channels == '
                             'out_channels can be skipped')
        self.skippable = skippable
        self.dims = nn.ModuleDict(
            dict(kernel_size=kernel, expand_ratio=expand))
        if len(se.candidates) > 1:
            self.dims['se_ratio'] = se
        else:
            self._fixed_se_ratio = se.candidates[0]
        if skippable:
            self.dims['keep'] = Skip(gate_cfg)

    @property
    def kernel_sizes(self):
        return self.dims['kernel_size'].candidates

    @property
    def expand_ratios(self):
        return self.dims['expand_ratio'].candidates

    @property
    def se_ratios(self):
        if 'se_ratio' in self.dims:
            return self.dims['se_ratio'].candidates
        return (self._fixed_se_ratio, )

    # ------------------------------------------------------------ gates --
    def _evaluate(self, calibrate=False):
        """Indicators of the block's own dimensions, and the state they
        leave (kernel mask, channel mask, SE mask); ``calibrate``:
        calibrate the gates on their current scores first."""
        weight = self.depthwise_conv.conv.weight
        state = dict(
            depthwise_weight=weight,
            like=weight.new_ones(()),
            base_channels=self.dims['expand_ratio'].hidden_sizes[0],
            calibrate=calibrate)
        if self.se is not None:
            state['se_weight'] = self.se.conv1.conv.weight
        indicators = {name: dim(state) for name, dim in self.dims.items()}
        # a block that cannot be skipped is always kept
        indicators.setdefault('keep', state['like'])
        return indicators, state

    def calibrate(self):
        """Calibrate every gate of the block on its current score
        (``ThresholdGate.calibrate``; calibrated gates are left alone)."""
        with torch.no_grad():
            self._evaluate(calibrate=True)
            if self.non_local is not None:
                self.non_local.indicators(calibrate=True)

    def indicators(self):
        """Straight-through indicators of this block, one per dimension.

        Returns:
            dict: ``keep`` (scalar, 1 when not skippable), ``kernel_size``
            (one-hot over ``kernel_sizes``), ``expand_ratio`` (over
            ``expand_ratios``), ``se_ratio`` (when searched) and, with a
            LightNL candidate, its
            ``insert``, ``channel_ratio`` and ``spatial_stride``.
        """
        result = self._evaluate()[0]
        if self.non_local is not None:
            result.update(self.non_local.indicators())
        return result

    def genotype_entry(self, **choices):
        """The genotype ``blocks`` entry with the given field values (the
        largest candidates elsewhere) and no non-local block."""
        entry = dict(
            expand_ratio=self.expand_ratios[-1],
            out_channels=self.out_channels,
            stride=self.stride,
            kernel_size=self.kernel_sizes[-1],
            se_ratio=self.se_ratios[-1],
            non_local=None)
        entry.update(choices)
        return entry

    def decode(self):
        """The block's genotype entry, or None when it is skipped."""
        with torch.no_grad():
            indicators = self._evaluate()[0]
        if 'keep' in self.dims and not self.dims['keep'].decode(
                indicators['keep']):
            return None
        return self.genotype_entry(
            **{dim.field: dim.decode(indicators[name])
               for name, dim in self.dims.items() if dim.field},
            non_local=self.non_local.decode()
            if self.non_local is not None else None)

    # ---------------------------------------------------------- forward --
    def _se(self, out, state):
        """SE with the chosen squeeze channels (all when not searched);
        bypassed when the SE-0 candidate is chosen."""
        if 'se_mask' not in state:
            return self.se(out)
        se = self.se
        squeeze = se.conv1(se.global_avgpool(out))
        squeeze = squeeze * state['se_mask'].to(out.dtype).view(1, -1, 1, 1)
        weight = se.conv2(squeeze)
        se_on = state['se_on'].to(out.dtype)
        return out * (se_on * weight + (1 - se_on))

    def forward(self, x):
        indicators, state = self._evaluate()
        depthwise = self.depthwise_conv
        conv = depthwise.conv
        out = self.expand_conv(x) if self.expand_conv is not None else x
        out = F.conv2d(out, conv.weight * state['kernel_mask'], None,
                       conv.stride, conv.padding, conv.dilation, conv.groups)
        out = depthwise.activate(depthwise.norm(out))
        out = out * state['channel_mask'].to(out.dtype).view(1, -1, 1, 1)
        if self.se is not None:
            out = self._se(out, state)
        out = self.project_conv(out)
        if self.non_local is not None:
            out = self.non_local(out)
        if not self.use_res_connect:
            return out
        if 'keep' in self.dims:
            out = indicators['keep'].to(out.dtype) * out
        return x + out
