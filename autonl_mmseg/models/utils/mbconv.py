"""The inverted-residual (MBConv) block of AutoNL networks, with optional SE
and an optional LightNL block after the projection."""
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.utils import SELayer
from torch import nn

from ..plugins.light_nl import LightNL


class MBConv(BaseModule):
    """Inverted residual block: expand 1x1 -> depthwise kxk -> (SE) ->
    project 1x1 -> (LightNL) -> (+ input).

    Submodule names follow MMPretrain's / MMSeg's ``InvertedResidual``
    (``conv.0`` expand, ``conv.1`` depthwise, ``conv.2`` project when there is
    no SE), so MobileNetV2 checkpoints load unchanged. With SE, the SE layer
    sits at ``conv.2`` between the depthwise conv and the projection.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise conv (1 or 2).
        expand_ratio (float): Hidden width = round(in_channels * ratio).
        kernel_size (int): Depthwise kernel size. Default: 3.
        dilation (int): Dilation of the depthwise conv. Default: 1.
        se_ratio (float): SE squeeze width = max(1, int(in_channels *
            se_ratio)); 0 disables SE. Default: 0.
        light_nl (dict, optional): ``dict(channel_ratio=..., spatial_stride=
            ...)`` to place a LightNL block after the projection. Default: None.
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
                 light_nl=None,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU6'),
                 with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        layers = []
        if expand_ratio != 1:
            layers.append(
                ConvModule(in_channels, hidden, 1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg))
        layers.append(
            ConvModule(hidden, hidden, kernel_size, stride=stride,
                       padding=dilation * (kernel_size - 1) // 2,
                       dilation=dilation, groups=hidden, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=act_cfg))
        if se_ratio > 0:
            layers.append(
                SELayer(hidden, squeeze_channels=max(1, int(in_channels *
                                                           se_ratio)),
                        bias=True, conv_cfg=conv_cfg,
                        act_cfg=(act_cfg, dict(type='Sigmoid'))))
        layers.append(
            ConvModule(hidden, out_channels, 1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=None))
        self.conv = nn.Sequential(*layers)
        self.light_nl = None
        if light_nl is not None:
            self.light_nl = LightNL(out_channels, norm_cfg=norm_cfg,
                                    **light_nl)

    def forward(self, x):

        def _inner_forward(x):
            out = self.conv(x)
            if self.light_nl is not None:
                out = self.light_nl(out)
            return x + out if self.use_res_connect else out

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)
