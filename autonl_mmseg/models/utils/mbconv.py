"""The inverted-residual (MBConv) block of AutoNL networks, with optional SE
and an optional non-local block (LightNL or any Table 1 row) after the
projection."""
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from mmpretrain.models.utils import SELayer
from torch import nn

from .widths import hidden_channels, se_channels


class MBConv(BaseModule):
    """Inverted residual block: expand 1x1 -> depthwise kxk -> (SE) ->
    project 1x1 -> (non-local) -> (+ input).

    Submodule names follow MMPretrain's / MMSeg's ``InvertedResidual``
    (``conv.0`` expand, ``conv.1`` depthwise, ``conv.2`` project when there is
    no SE), so MobileNetV2 checkpoints load unchanged. With SE, the SE layer
    sits at ``conv.2`` between the depthwise conv and the projection. The
    non-local block is a submodule named by its ``_abbr_`` (``light_nl`` for
    LightNL), as MMCV names plugins. The search's superkernel block
    (``SearchableMBConv``) is built by this constructor too.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise conv (1 or 2).
        expand_ratio (float): Hidden width = round(in_channels * ratio).
        kernel_size (int): Depthwise kernel size. Default: 3.
        dilation (int): Dilation of the depthwise conv. Default: 1.
        se_ratio (float): SE squeeze width = max(1, int(in_channels *
            se_ratio)); 0 disables SE. Default: 0.
        non_local (dict, optional): Config of a registered non-local block
            placed after the projection, e.g. ``dict(type='LightNL',
            channel_ratio=0.25, spatial_stride=2)``; ``in_channels`` and
            ``norm_cfg`` default to the block's. Default: None.
        conv_cfg (dict, optional): Config of conv layers. Default: None.
        norm_cfg (dict): Config of norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of activations. Default: dict(type='ReLU6').
        with_cp (bool): Use gradient checkpointing. Default: False.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 stride,
                 expand_ratio,
                 kernel_size=3,
                 dilation=1,
                 se_ratio=0,
                 non_local=None,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU6'),
                 with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.with_expand_conv = expand_ratio != 1
        self.with_se = se_ratio > 0
        hidden = hidden_channels(in_channels, expand_ratio)
        layers = []
        if self.with_expand_conv:
            layers.append(
                ConvModule(in_channels, hidden, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg))
        layers.append(
            ConvModule(hidden, hidden, kernel_size, stride=stride,
                       padding=dilation * (kernel_size - 1) // 2,
                       dilation=dilation, groups=hidden, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=act_cfg))
        if self.with_se:
            layers.append(
                SELayer(hidden,
                        squeeze_channels=se_channels(in_channels, se_ratio),
                        bias=True, conv_cfg=conv_cfg,
                        act_cfg=(act_cfg, dict(type='Sigmoid'))))
        layers.append(
            ConvModule(hidden, out_channels, 1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=None))
        # A torch container, as in MMPretrain's InvertedResidual: the
        # backbone's init_cfg initialises these layers, and MMEngine's
        # recursion must not re-draw them with ConvModule's own init.
        self.conv = nn.Sequential(*layers)
        self.non_local_name = None
        if non_local is not None:
            layer = MODELS.build(
                non_local,
                default_args=dict(in_channels=out_channels,
                                  norm_cfg=norm_cfg))
            self.non_local_name = getattr(layer, '_abbr_', 'nonlocal_block')
            self.add_module(self.non_local_name, layer)

    # Named views of ``self.conv``'s layers (the state-dict keys stay those
    # of MMPretrain's InvertedResidual).
    @property
    def expand_conv(self):
        return self.conv[0] if self.with_expand_conv else None

    @property
    def depthwise_conv(self):
        return self.conv[int(self.with_expand_conv)]

    @property
    def se(self):
        return self.conv[int(self.with_expand_conv) + 1] \
            if self.with_se else None

    @property
    def project_conv(self):
        return self.conv[-1]

    @property
    def non_local(self):
        return getattr(self, self.non_local_name) \
            if self.non_local_name else None

    def forward(self, x):

        def _inner_forward(x):
            out = self.conv(x)
            if self.non_local_name is not None:
                out = self.non_local(out)
            return x + out if self.use_res_connect else out

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)
