"""A Single-Path NAS superkernel MBConv block with a searchable LightNL.

One set of weights holds every choice of the block:

- kernel: a ``k_max x k_max`` depthwise kernel whose centred ``k x k`` part
  is the kernel-``k`` choice. Ring ``j`` (positions in ``k_j`` but not in
  ``k_{j-1}``) is used when the gates of rings ``2..j`` are on; the gate of
  ring ``j`` is ``1[mean(w_ring_j^2) > t]`` over the base channels.
- expansion: ``round(C_in e_max)`` hidden channels whose first
  ``round(C_in e)`` are the expansion-``e`` choice; chunk ``j`` is used when
  the gates of chunks ``2..j`` are on, chunk ``j``'s gate being
  ``1[mean(w^2) > t]`` over its channels and the kernel positions in use.
  The unused channels are zeroed after the depthwise conv + BN +
  activation, so SE and the projection see exactly the smaller block.
- skip (``skippable`` blocks: stride 1, in == out, not first of a stage):
  Single-Path NAS' encoding, the "smallest expansion" gate
  ``1[mean(w_base^2) > t]`` over the base channels (kernel positions in
  use); when it is off the block's output is its input (its LightNL goes
  with it). The expansion gates then no longer matter.

All scores are mean squares (``||w||^2`` divided by the number of entries)
so that one threshold scale fits every gate and block. Gates are evaluated
in the order kernel -> expansion -> skip, each score using the kernel chosen
before it (straight-through, so the gradients follow the nesting).
"""
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.utils import SELayer
from torch import nn

from .gates import ThresholdGate, nested_one_hot
from .searchable_light_nl import SearchableLightNL


class SearchableMBConv(BaseModule):
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
        se_ratio (float): SE squeeze width = max(1, int(in_channels *
            se_ratio)) (fixed, not searched); 0 disables SE. Default: 0.
        skippable (bool): Whether the block may be skipped. Default: False.
        light_nl (dict, optional): ``SearchableLightNL`` arguments
            (``channel_ratios``, ``spatial_strides``, ...) or None for no
            LightNL candidate. Default: None.
        gate_cfg (dict): ``ThresholdGate`` arguments of the kernel,
            expansion and skip gates.
            Default: dict(init_threshold=0., temperature=0.05).
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
                 se_ratio=0,
                 skippable=False,
                 light_nl=None,
                 gate_cfg=dict(init_threshold=0., temperature=0.05),
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='Swish'),
                 init_cfg=None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.kernel_sizes = tuple(sorted(kernel_sizes))
        self.expand_ratios = tuple(sorted(expand_ratios))
        self.se_ratio = se_ratio
        self.use_res_connect = stride == 1 and in_channels == out_channels
        if skippable and not self.use_res_connect:
            raise ValueError('only a block with stride 1 and in_channels == '
                             'out_channels can be skipped')
        self.skippable = skippable
        self.hidden_sizes = [
            int(round(in_channels * e)) for e in self.expand_ratios
        ]
        hidden = self.hidden_sizes[-1]
        max_kernel = self.kernel_sizes[-1]

        self.expand_conv = None
        if self.expand_ratios != (1, ):
            self.expand_conv = ConvModule(
                in_channels, hidden, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        self.depthwise_conv = nn.Conv2d(
            hidden, hidden, max_kernel, stride=stride,
            padding=max_kernel // 2, groups=hidden, bias=False)
        self.depthwise_norm_name, norm = build_norm_layer(norm_cfg, hidden)
        self.add_module(self.depthwise_norm_name, norm)
        self.depthwise_act = build_activation_layer(act_cfg)
        self.se = None
        if se_ratio > 0:
            self.se = SELayer(
                hidden,
                squeeze_channels=max(1, int(in_channels * se_ratio)),
                bias=True, conv_cfg=conv_cfg,
                act_cfg=(act_cfg, dict(type='Sigmoid')))
        self.project_conv = ConvModule(
            hidden, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
            act_cfg=None)
        self.light_nl = None
        if light_nl is not None:
            self.light_nl = SearchableLightNL(
                out_channels, norm_cfg=norm_cfg, **light_nl)

        self.kernel_gates = nn.ModuleList(
            ThresholdGate(**gate_cfg) for _ in self.kernel_sizes[1:])
        self.expand_gates = nn.ModuleList(
            ThresholdGate(**gate_cfg) for _ in self.expand_ratios[1:])
        self.skip_gate = ThresholdGate(**gate_cfg) if skippable else None
        # ring j: positions of kernel j that kernel j-1 does not have
        rings = torch.zeros(len(self.kernel_sizes), max_kernel, max_kernel)
        previous = torch.zeros(max_kernel, max_kernel)
        for j, k in enumerate(self.kernel_sizes):
            inside = torch.zeros(max_kernel, max_kernel)
            lo = (max_kernel - k) // 2
            inside[lo:lo + k, lo:lo + k] = 1
            rings[j] = inside - previous
            previous = inside
        self.register_buffer('kernel_rings', rings, persistent=False)

    @property
    def depthwise_norm(self):
        return getattr(self, self.depthwise_norm_name)

    # ------------------------------------------------------------ gates --
    def _gates(self):
        """Straight-through choices, the kernel mask and the channel mask."""
        weight = self.depthwise_conv.weight
        energy = weight.pow(2).sum(1)  # (hidden, k_max, k_max)
        base = self.hidden_sizes[0]
        like = weight.new_ones(())
        ring_sizes = self.kernel_rings.flatten(1).sum(1)

        kernel_gates = []
        for j, gate in enumerate(self.kernel_gates, start=1):
            ring = self.kernel_rings[j]
            score = (energy[:base] * ring).sum() / (base * ring_sizes[j])
            kernel_gates.append(gate(score))
        kernel = nested_one_hot(kernel_gates, like)  # (n_k, )
        # used[j] = rings 1..j on = sum of one-hot entries >= j
        used = kernel.flip(0).cumsum(0).flip(0)
        kernel_mask = (used[:, None, None] * self.kernel_rings).sum(0)
        positions = (used.detach() * ring_sizes).sum()  # k_chosen^2
        channel_energy = (energy * kernel_mask).flatten(1).sum(1)

        expand_gates = []
        for j, gate in enumerate(self.expand_gates, start=1):
            lo, hi = self.hidden_sizes[j - 1], self.hidden_sizes[j]
            score = channel_energy[lo:hi].sum() / ((hi - lo) * positions)
            expand_gates.append(gate(score))
        expand = nested_one_hot(expand_gates, like)  # (n_e, )
        chunk_used = expand.flip(0).cumsum(0).flip(0)
        channel_mask = torch.cat([
            chunk_used[j].expand(hi - lo) for j, (lo, hi) in enumerate(
                zip([0] + self.hidden_sizes[:-1], self.hidden_sizes))
        ])

        keep = like
        if self.skip_gate is not None:
            keep = self.skip_gate(channel_energy[:base].sum() /
                                  (base * positions))
        return dict(
            keep=keep,
            kernel=kernel,
            expand=expand,
            kernel_mask=kernel_mask,
            channel_mask=channel_mask)

    def indicators(self):
        """Straight-through one-hot choices of this block.

        Returns:
            dict: ``keep`` (scalar, 1 when not skippable), ``kernel``
            (over ``kernel_sizes``), ``expand`` (over ``expand_ratios``)
            and, with a LightNL candidate, ``light_nl``, ``channel_ratio``,
            ``spatial_stride``.
        """
        gates = self._gates()
        result = {k: gates[k] for k in ('keep', 'kernel', 'expand')}
        if self.light_nl is not None:
            result.update(self.light_nl.indicators())
        return result

    def decode(self):
        """The block's genotype entry, or None when it is skipped."""
        with torch.no_grad():
            gates = self._gates()
        if gates['keep'].item() < 0.5:
            return None
        expand_ratio = self.expand_ratios[int(gates['expand'].argmax())]
        if float(expand_ratio).is_integer():
            expand_ratio = int(expand_ratio)
        return dict(
            expand_ratio=expand_ratio,
            out_channels=self.out_channels,
            stride=self.stride,
            kernel_size=self.kernel_sizes[int(gates['kernel'].argmax())],
            se_ratio=self.se_ratio,
            light_nl=self.light_nl.decode()
            if self.light_nl is not None else None)

    # ---------------------------------------------------------- forward --
    def forward(self, x):
        # (no gradient checkpointing: a recomputed forward would update the
        # LightNL distance EMAs twice)
        gates = self._gates()
        weight = self.depthwise_conv.weight * gates['kernel_mask']
        out = self.expand_conv(x) if self.expand_conv is not None else x
        out = F.conv2d(out, weight, None, self.stride,
                       self.depthwise_conv.padding,
                       groups=self.depthwise_conv.groups)
        out = self.depthwise_act(self.depthwise_norm(out))
        out = out * gates['channel_mask'].to(out.dtype).view(1, -1, 1, 1)
        if self.se is not None:
            out = self.se(out)
        out = self.project_conv(out)
        if self.light_nl is not None:
            out = self.light_nl(out)
        if not self.use_res_connect:
            return out
        if self.skip_gate is not None:
            out = gates['keep'].to(out.dtype) * out
        return x + out
