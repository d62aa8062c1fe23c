"""AutoNLSuperNet: the searchable backbone (Single-Path NAS + AutoNL)."""
import copy

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.utils.genotype import FORMAT_NAME, validate_genotype
from .gates import ThresholdGate
from .search_space import build_search_space
from .searchable_mbconv import SearchableMBConv


@MODELS.register_module()
class AutoNLSuperNet(BaseModule):
    """Searchable MBConv network; ``decode()`` returns the genotype that
    ``AutoNLNet`` builds.

    Every block is a :class:`SearchableMBConv` (superkernel for kernel and
    expansion, optional skip, searchable LightNL after the projection); the
    supernet owns all the gates (``*.threshold`` parameters) and the
    LightNL distance EMAs (buffers). Layout and outputs follow
    ``AutoNLNet``: ``conv1`` (3x3 stride-2 stem), ``layer1`` ..
    ``layerN`` (one per stage of the search space), ``conv2`` (1x1 head
    conv), so the classifier's neck and head are those of ``AutoNLNet``'s
    config.

    Args:
        search_space (dict, optional): Search-space definition (see
            ``autonl_mmseg.search.search_space``); None: the default
            Single-Path NAS space with LightNL candidates.
        gate_cfg (dict): ``ThresholdGate`` arguments of the kernel,
            expansion, skip and LightNL-insertion gates (scores: mean
            squares of depthwise weights).
            Default: dict(init_threshold=0., temperature=0.05).
        compact_gate_cfg (dict): ``ThresholdGate`` arguments of the LightNL
            channel and spatial gates (scores: relative distances).
            Default: dict(init_threshold=0., temperature=0.1).
        ema_momentum (float): Weight of a new batch in the LightNL distance
            EMAs. Default: 0.1.
        light_nl_reuse (bool): Eqn 14 reuse in the LightNL candidates;
            False evaluates every candidate separately. Default: True.
        out_indices (Sequence[int]): As in ``AutoNLNet``: stage ``i`` or the
            head conv (-1 or the number of stages). Default: (-1, ).
        conv_cfg (dict, optional): Config of conv layers. Default: None.
        norm_cfg (dict): Config of norm layers. Default: dict(type='BN').
        act_cfg (dict, optional): Activation; None takes the search space's
            ``act``. Default: None.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Default: False.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Default: Kaiming for convs, 1 for BN (LightNL BNs stay zero).
    """

    default_init_cfg = [
        dict(type='Kaiming', layer=['Conv2d']),
        dict(type='Constant', val=1, layer=['_BatchNorm'])
    ]

    def __init__(self,
                 search_space=None,
                 gate_cfg=dict(init_threshold=0., temperature=0.05),
                 compact_gate_cfg=dict(init_threshold=0., temperature=0.1),
                 ema_momentum=0.1,
                 light_nl_reuse=True,
                 out_indices=(-1, ),
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=None,
                 norm_eval=False,
                 init_cfg=None):
        super().__init__(init_cfg or copy.deepcopy(self.default_init_cfg))
        self.space = build_search_space(search_space)
        self.search_space = search_space
        self.norm_eval = norm_eval
        act_cfg = act_cfg or dict(type=self.space['act'])
        self.act_cfg = act_cfg
        self.num_stages = self.space['num_stages']
        out_indices = tuple(out_indices)
        for index in out_indices:
            if not -1 <= index <= self.num_stages:
                raise ValueError(f'out_indices items must be in [-1, '
                                 f'{self.num_stages}], got {index}')
        self.out_indices = tuple(self.num_stages if i == -1 else i
                                 for i in out_indices)

        self.conv1 = ConvModule(3, self.space['stem_channels'], 3, stride=2,
                                padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        stages = [[] for _ in range(self.num_stages)]
        for spec in self.space['blocks']:
            light_nl = None
            if spec['light_nl'] is not None:
                light_nl = dict(spec['light_nl'],
                                insert_gate_cfg=gate_cfg,
                                compact_gate_cfg=compact_gate_cfg,
                                ema_momentum=ema_momentum,
                                reuse=light_nl_reuse)
            stages[spec['stage']].append(
                SearchableMBConv(
                    spec['in_channels'], spec['out_channels'],
                    spec['stride'], kernel_sizes=spec['kernel_sizes'],
                    expand_ratios=spec['expand_ratios'],
                    se_ratio=spec['se_ratio'], skippable=spec['skippable'],
                    light_nl=light_nl, gate_cfg=gate_cfg, conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.layers = []
        self.out_channels = []
        for i, blocks in enumerate(stages):
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.layers.append(name)
            self.out_channels.append(blocks[-1].out_channels)
        self.conv2 = ConvModule(self.out_channels[-1],
                                self.space['head_channels'], 1,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.layers.append('conv2')
        self.out_channels.append(self.space['head_channels'])

    # ------------------------------------------------------------ search --
    def blocks(self):
        """The searchable blocks, in order."""
        return [
            block for name in self.layers[:-1]
            for block in getattr(self, name)
        ]

    def gates(self):
        return [m for m in self.modules() if isinstance(m, ThresholdGate)]

    def freeze_thresholds(self, frozen=True):
        """Zero the thresholds' gradients (kept in the graph) or not."""
        for gate in self.gates():
            gate.frozen = frozen

    def indicators(self):
        """Per-block straight-through one-hot choices (see
        ``SearchableMBConv.indicators``), for the cost model."""
        return [block.indicators() for block in self.blocks()]

    def decode(self, name='autonl-search'):
        """The current hard architecture as a validated genotype dict."""
        blocks = [block.decode() for block in self.blocks()]
        genotype = dict(
            format=FORMAT_NAME,
            version=1,
            name=name,
            stem_channels=self.space['stem_channels'],
            head_channels=self.space['head_channels'],
            act=self.act_cfg['type'],
            blocks=[b for b in blocks if b is not None])
        return validate_genotype(genotype, '<decoded supernet>')

    # ----------------------------------------------------------- forward --
    def init_weights(self):
        super().init_weights()
        # the Constant BN init above must not undo LightNL's identity start
        for block in self.blocks():
            if block.light_nl is not None:
                block.light_nl._zero_init_norm()

    def forward(self, x):
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

