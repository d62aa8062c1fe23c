"""AutoNLNet: one backbone, built from a genotype, for MMPretrain and MMSeg."""
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule, Sequential
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.genotype import load_genotype, stage_boundaries
from ..utils.mbconv import MBConv


@MODELS.register_module()
class AutoNLNet(BaseModule):
    """MBConv network (MobileNetV2, MobileNetV2-LightNL, AutoNL-S/L, or a
    searched genotype) described by a genotype file.

    Layout: ``conv1`` (3x3 stride-2 stem), ``layer1`` .. ``layerN`` (one per
    stage of the genotype: a stage starts at a stride-2 block or a change of
    output channels), ``conv2`` (1x1 head conv). Names and indices follow
    MMPretrain's/MMSeg's ``MobileNetV2``: for the ``mobilenet-v2`` genotype the
    state dicts are interchangeable (``mobilenet-v2-lightnl`` adds only the
    ``light_nl`` parameters).

    Classification: the default ``out_indices=(-1, )`` returns the head conv
    output (1280 channels), so ``ImageClassifier(backbone=AutoNLNet, neck=
    GlobalAveragePooling, head=LinearClsHead(in_channels=1280))`` is the
    network of the paper's Table 3. Segmentation: ``output_stride=8`` or 16
    turns the later strides into dilations (DeepLab) and ``out_indices``
    selects multi-level stage outputs.

    Args:
        genotype (str | dict): Path of a genotype JSON, name of a shipped one
            (``'autonl-s'``, ``'autonl-l'``, ``'mobilenet-v2'``,
            ``'mobilenet-v2-lightnl'``) or an inline dict.
        out_indices (Sequence[int]): Outputs to return: ``i`` < number of
            stages is stage ``i`` (``layer{i+1}``), the number of stages (or
            -1) is the head conv. Default: (-1, ).
        output_stride (int): 32, 16 or 8. Default: 32.
        frozen_stages (int): Freeze the stem (0) and ``layer1`` ..
            ``layer{frozen_stages}``; -1 freezes nothing. Default: -1.
        conv_cfg (dict, optional): Config of conv layers. Default: None.
        norm_cfg (dict): Config of norm layers. Default: dict(type='BN').
        act_cfg (dict, optional): Activation; None takes the genotype's
            ``act``. Default: None.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Default: False.
        with_cp (bool): Gradient checkpointing in the blocks. Default: False.
        init_cfg (dict | list[dict]): Initialisation config. A
            ``dict(type='Pretrained', checkpoint=None)`` means "no checkpoint
            yet": the default initialisation is used, so a config can carry
            the Pretrained entry and a user only sets
            ``model.backbone.init_cfg.checkpoint=PATH``.
    """

    default_init_cfg = [
        dict(type='Kaiming', layer=['Conv2d']),
        dict(type='Constant', val=1, layer=['_BatchNorm'])
    ]

    def __init__(self,
                 genotype='autonl-s',
                 out_indices=(-1, ),
                 output_stride=32,
                 frozen_stages=-1,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=None,
                 norm_eval=False,
                 with_cp=False,
                 init_cfg=None):
        if init_cfg is None or (isinstance(init_cfg, dict)
                                and init_cfg.get('type') == 'Pretrained'
                                and init_cfg.get('checkpoint') is None):
            init_cfg = self.default_init_cfg
        super().__init__(init_cfg)
        self.genotype = load_genotype(genotype)
        if output_stride not in (8, 16, 32):
            raise ValueError(
                f'output_stride must be 8, 16 or 32, got {output_stride}')
        blocks = self.genotype['blocks']
        stages = stage_boundaries(blocks)
        self.num_stages = len(stages)
        out_indices = tuple(out_indices)
        for index in out_indices:
            if not -1 <= index <= self.num_stages:
                raise ValueError(
                    f'out_indices items must be in [-1, {self.num_stages}] '
                    f'for this genotype, got {index}')
        self.out_indices = tuple(self.num_stages if i == -1 else i
                                 for i in out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        act_cfg = act_cfg or dict(type=self.genotype['act'])

        in_channels = self.genotype['stem_channels']
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        current_stride, dilation = 2, 1
        self.layers = []
        self.out_channels = []
        for stage_index, block_ids in enumerate(stages):
            layer = []
            for i in block_ids:
                block = blocks[i]
                stride = block['stride']
                if stride == 2 and current_stride * 2 > output_stride:
                    stride, dilation = 1, dilation * 2  # DeepLab: atrous
                current_stride *= stride
                layer.append(
                    MBConv(in_channels, block['out_channels'], stride,
                           block['expand_ratio'], block['kernel_size'],
                           dilation=dilation, se_ratio=block['se_ratio'],
                           light_nl=block['light_nl'], conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=act_cfg,
                           with_cp=with_cp))
                in_channels = block['out_channels']
            name = f'layer{stage_index + 1}'
            self.add_module(name, Sequential(*layer))
            self.layers.append(name)
            self.out_channels.append(in_channels)
        # The head conv exists only when it is an output: a segmentor that
        # takes stage outputs would never use (nor train) it.
        if self.num_stages in self.out_indices:
            self.conv2 = ConvModule(in_channels,
                                    self.genotype['head_channels'], 1,
                                    conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                    act_cfg=act_cfg)
            self.layers.append('conv2')
            self.out_channels.append(self.genotype['head_channels'])
        # nothing after the last requested output is built
        del_from = max(self.out_indices) + 1
        for name in self.layers[del_from:]:
            delattr(self, name)
        self.layers = self.layers[:del_from]

    def forward(self, x):
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            self.conv1.eval()
            for param in self.conv1.parameters():
                param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, self.layers[i - 1])
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
