"""AutoNLSuperNet: the searchable backbone (Single-Path NAS + AutoNL)."""
from mmengine.registry import MODELS

from ..models.backbones.mbconv_net import MBConvNet
from ..models.utils.genotype import (FORMAT_NAME, FORMAT_VERSION, to_plain,
                                     validate_genotype)
from .gates import ThresholdGate
from .search_space import build_search_space
from .searchable_mbconv import SearchableMBConv


@MODELS.register_module()
class AutoNLSuperNet(MBConvNet):
    """Searchable MBConv network; ``decode()`` returns the genotype that
    ``AutoNLNet`` builds.

    Every block is a :class:`SearchableMBConv` (superkernel for kernel and
    expansion, optional skip, searchable LightNL after the projection); the
    supernet owns all the gates (``*.threshold`` parameters) and the
    LightNL distance EMAs (buffers). Layout, outputs, ``norm_eval`` and the
    default initialisation are those of ``AutoNLNet`` (both are
    :class:`MBConvNet`): ``conv1`` (3x3 stride-2 stem), ``layer1`` ..
    ``layerN`` (one per stage of the search space), ``conv2`` (1x1 head
    conv), so the classifier's neck and head are those of ``AutoNLNet``'s
    config. Every stage and the head conv are built whatever
    ``out_indices`` says: the search decodes and costs all of them.

    Args:
        search_space (dict, optional): Search-space definition (see
            ``autonl_mmseg.search.search_space``); None: the default
            Single-Path NAS space with LightNL candidates.
        gate_cfg (dict): ``ThresholdGate`` arguments of the kernel,
            expansion, SE, skip and LightNL-insertion gates (scores: mean
            squares of weights). Default: dict() (``ThresholdGate``'s
            defaults: temperature 0.5, init_margin 1, log units).
        compact_gate_cfg (dict): ``ThresholdGate`` arguments of the LightNL
            channel and spatial gates (scores: relative distance EMAs).
            Default: dict().
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
            Default: Kaiming for convs, 1 for BN (the LightNL blocks'
            own ``init_weights`` then restores their zero BN).
    """

    build_all_layers = True

    def __init__(self,
                 search_space=None,
                 gate_cfg=dict(),
                 compact_gate_cfg=dict(),
                 ema_momentum=0.1,
                 light_nl_reuse=True,
                 out_indices=(-1, ),
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=None,
                 norm_eval=False,
                 init_cfg=None):
        space = build_search_space(search_space)
        super().__init__(
            out_indices=out_indices,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg or dict(type=space['act']),
            norm_eval=norm_eval,
            init_cfg=init_cfg)
        self.space = space
        self.search_space = search_space
        self.gate_cfg = gate_cfg
        self.light_nl_cfg = dict(
            type='SearchableLightNL',
            insert_gate_cfg=gate_cfg,
            compact_gate_cfg=compact_gate_cfg,
            ema_momentum=ema_momentum,
            reuse=light_nl_reuse)
        stages = [[] for _ in range(space['num_stages'])]
        for spec in space['blocks']:
            stages[spec['stage']].append(spec)
        self.build_layers(space['stem_channels'], stages,
                          space['head_channels'])

    def make_block(self, spec, in_channels, stride, dilation):
        non_local = None
        if spec['light_nl'] is not None:
            non_local = dict(self.light_nl_cfg, **spec['light_nl'])
        return SearchableMBConv(
            in_channels,
            spec['out_channels'],
            stride,
            kernel_sizes=spec['kernel_sizes'],
            expand_ratios=spec['expand_ratios'],
            dilation=dilation,
            se_ratios=spec['se_ratios'],
            skippable=spec['skippable'],
            non_local=non_local,
            gate_cfg=self.gate_cfg,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def architecture_spec(self):
        return dict(search_space=to_plain(self.space['definition']))

    # ------------------------------------------------------------ search --
    def blocks(self):
        """The searchable blocks, in order."""
        return [block for stage in self.stages() for block in stage]

    def gates(self):
        return [m for m in self.modules() if isinstance(m, ThresholdGate)]

    def freeze_thresholds(self, frozen=True):
        """Zero the thresholds' gradients (kept in the graph) or not."""
        for gate in self.gates():
            gate.frozen = frozen

    def set_path_dropout(self, drop_prob):
        """Every gate takes its smaller choice with probability
        ``drop_prob`` in the following forward passes (0: off)."""
        for gate in self.gates():
            gate.drop_prob = float(drop_prob)

    def calibrated(self):
        """Whether every gate has been calibrated."""
        return all(bool(gate.calibrated) for gate in self.gates())

    def calibrate_thresholds(self):
        """Calibrate the gates that are not yet (``ThresholdGate.calibrate``:
        ``t = log(score) - init_margin``). A distance gate whose EMAs have
        seen no batch stays uncalibrated until they have. Returns the
        number of gates calibrated now."""
        before = sum(bool(gate.calibrated) for gate in self.gates())
        for block in self.blocks():
            block.calibrate()
        return sum(bool(gate.calibrated) for gate in self.gates()) - before

    def gate_states(self):
        """Diagnostics: ``{name: dict(score, threshold, margin)}`` of every
        gate (log units; ``score`` of the last forward pass, None before
        it; a distance gate's score is its last candidate's) and
        ``{name: EMA}`` of every LightNL candidate's distance."""
        gates, distances = {}, {}
        for name, module in self.named_modules():
            if isinstance(module, ThresholdGate):
                gates[name] = module.diagnostics()
            elif hasattr(module, 'channel_distance_ema'):
                for field, ema, candidates in (
                        ('channel_ratio', module.channel_distance_ema,
                         module.channel_ratios),
                        ('spatial_stride', module.spatial_distance_ema,
                         module.spatial_strides)):
                    for value, candidate in zip(ema.tolist(), candidates):
                        distances[f'{name}.{field}_{candidate:g}'] = value
        return gates, distances

    def indicators(self):
        """Per-block straight-through indicators (see
        ``SearchableMBConv.indicators``), for the cost model."""
        return [block.indicators() for block in self.blocks()]

    def _genotype(self, blocks, name):
        genotype = dict(
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            name=name,
            stem_channels=self.space['stem_channels'],
            head_channels=self.space['head_channels'],
            act=self.act_cfg['type'],
            blocks=[b for b in blocks if b is not None])
        return validate_genotype(genotype, f'<{name}>')

    def decode(self, name='autonl-search'):
        """The current hard architecture as a validated genotype dict."""
        return self._genotype([block.decode() for block in self.blocks()],
                              name)

    def sample_genotype(self, rng, name='autonl-random'):
        """A genotype drawn at random from the search space (the search's
        baseline): every skippable block kept with probability 1/2, every
        LightNL candidate inserted with probability 1/2, every choice
        uniform over its candidates.

        Args:
            rng (random.Random): The random generator.
        """
        blocks = []
        for block in self.blocks():
            if 'keep' in block.dims and rng.random() < 0.5:
                continue
            non_local = None
            nl = block.non_local
            if nl is not None and rng.random() < 0.5:
                non_local = nl.genotype_entry(**{
                    dim.field: rng.choice(dim.candidates)
                    for dim in nl.dims.values() if dim.field
                })
            blocks.append(block.genotype_entry(
                **{dim.field: rng.choice(dim.candidates)
                   for dim in block.dims.values() if dim.field},
                non_local=non_local))
        return self._genotype(blocks, name)
