"""AutoNLNet: one backbone, built from a genotype, for MMPretrain and MMSeg."""
from mmcv.cnn import fuse_conv_bn
from mmengine.registry import MODELS

from ..utils.genotype import load_genotype, stage_boundaries
from ..utils.mbconv import MBConv
from ..utils.widths import widen_genotype
from .mbconv_net import MBConvNet


@MODELS.register_module()
class AutoNLNet(MBConvNet):
    """MBConv network (MobileNetV2, MobileNetV2-LightNL, AutoNL-S/L, or a
    searched genotype) described by a genotype file.

    Layout (see :class:`MBConvNet`): ``conv1`` (3x3 stride-2 stem),
    ``layer1`` .. ``layerN`` (one per stage of the genotype: a stage starts
    at a stride-2 block or a change of output channels), ``conv2`` (1x1 head
    conv). Names and indices follow MMPretrain's/MMSeg's ``MobileNetV2``:
    for the ``mobilenet-v2`` genotype the state dicts are interchangeable at
    every ``widen_factor`` (``mobilenet-v2-lightnl`` adds only the
    ``light_nl`` parameters).

    Classification: the default ``out_indices=(-1, )`` returns the head conv
    output (1280 channels), so ``ImageClassifier(backbone=AutoNLNet, neck=
    GlobalAveragePooling, head=LinearClsHead(in_channels=1280))`` is the
    network of the paper's Table 3. Segmentation: ``output_stride=8`` or 16
    turns the later strides into dilations (DeepLab) and ``out_indices``
    selects multi-level stage outputs.

    Args:
        genotype (str | dict): Name of a shipped genotype (``'autonl-s'``,
            ``'autonl-l'``, ``'mobilenet-v2'``, ``'mobilenet-v2-lightnl'``),
            path of a genotype JSON, or an inline dict.
        widen_factor (float): Width multiplier, MMPretrain's MobileNetV2
            rule (``widen_genotype``): channels times the factor, rounded
            to multiples of 8; the head conv only grows. Default: 1.0.
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
        deploy (bool): Build the deploy form that :meth:`switch_to_deploy`
            produces (every norm folded into the conv before it: convs with
            biases, no norms), to load weights converted by
            ``tools/model_converters/switch_to_deploy.py``. Default: False.
        init_cfg (dict | list[dict]): Initialisation config. A
            ``dict(type='Pretrained', checkpoint=None)`` means "no checkpoint
            yet": the default initialisation is used, so a config can carry
            the Pretrained entry and a user only sets
            ``model.backbone.init_cfg.checkpoint=PATH``.
    """

    def __init__(self,
                 genotype='autonl-s',
                 widen_factor=1.0,
                 out_indices=(-1, ),
                 output_stride=32,
                 frozen_stages=-1,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=None,
                 norm_eval=False,
                 with_cp=False,
                 deploy=False,
                 init_cfg=None):
        genotype = widen_genotype(load_genotype(genotype), widen_factor)
        super().__init__(
            out_indices=out_indices,
            output_stride=output_stride,
            frozen_stages=frozen_stages,
            conv_cfg=conv_cfg,
            norm_cfg=None if deploy else norm_cfg,
            act_cfg=act_cfg or dict(type=genotype['act']),
            norm_eval=norm_eval,
            init_cfg=init_cfg)
        #: the genotype the network is built from (after ``widen_factor``)
        self.genotype = genotype
        self.widen_factor = widen_factor
        self.with_cp = with_cp
        self.deploy = deploy
        blocks = genotype['blocks']
        self.build_layers(
            genotype['stem_channels'],
            [[blocks[i] for i in ids] for ids in stage_boundaries(blocks)],
            genotype['head_channels'])

    def architecture_spec(self):
        # ``meta`` (free-form, possibly large) is no part of the network
        return dict(genotype={k: v for k, v in self.genotype.items()
                              if k != 'meta'})

    def make_block(self, spec, in_channels, stride, dilation):
        return MBConv(
            in_channels,
            spec['out_channels'],
            stride,
            spec['expand_ratio'],
            spec['kernel_size'],
            dilation=dilation,
            se_ratio=spec['se_ratio'],
            non_local=spec['non_local'],
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            with_cp=self.with_cp)

    def switch_to_deploy(self):
        """Fold every eval-mode norm into the conv before it (MMCV's
        ``fuse_conv_bn``: the convs of ``ConvModule``s and LightNL's
        depthwise conv gain biases, the norms become ``nn.Identity``), as
        MMPretrain's reparameterisable backbones offer. Outputs in eval mode
        are unchanged; the state dict is then that of ``deploy=True``.
        """
        if not self.deploy:
            fuse_conv_bn(self)
            self.deploy = True
