"""The skeleton of MBConv networks, shared by the fixed network
(``AutoNLNet``) and the search's supernet (``AutoNLSuperNet``)."""
import copy
import json

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule, Sequential
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.genotype import (GenotypeMismatchError, genotype_difference,
                              genotype_label)

#: State-dict key (below the network's prefix, e.g. ``backbone.``) of the
#: architecture that the weights belong to.
ARCHITECTURE_KEY = 'architecture'


def encode_architecture(spec):
    """A JSON-ready dict as a uint8 tensor of its UTF-8 JSON text.

    A tensor rather than ``get_extra_state``: everything that walks state
    dicts (``weights_to_cpu``, the EMA of buffers, DDP, converters) expects
    tensors.
    """
    data = json.dumps(spec, sort_keys=True).encode('utf-8')
    return torch.tensor(list(data), dtype=torch.uint8)


def decode_architecture(tensor):
    """The dict that :func:`encode_architecture` encoded."""
    return json.loads(tensor.detach().cpu().numpy().tobytes().decode('utf-8'))


def find_architecture(state_dict):
    """The architecture stored in a state dict (the shortest key ending in
    ``architecture`` holding a uint8 tensor: the model's own backbone, not
    an EMA copy), or None for weights written without one."""
    keys = sorted((key for key, value in state_dict.items()
                   if key.split('.')[-1] == ARCHITECTURE_KEY
                   and isinstance(value, torch.Tensor)
                   and value.dtype == torch.uint8), key=len)
    return decode_architecture(state_dict[keys[0]]) if keys else None


def _describe(spec):
    if 'genotype' in spec:
        return f'genotype {genotype_label(spec["genotype"])}'
    return 'the search supernet'


def check_architecture(saved, spec):
    """Raise :class:`GenotypeMismatchError` (one line naming both) unless
    the architecture ``saved`` with some weights builds the network that
    ``spec`` describes."""
    if 'genotype' in saved and 'genotype' in spec:
        difference = genotype_difference(saved['genotype'], spec['genotype'])
        hint = ('build the network with the checkpoint\'s genotype '
                '(model.backbone.genotype, widen_factor)')
    elif saved.keys() == spec.keys():
        difference = None if saved == spec else 'another search space'
        hint = 'use the search space the checkpoint was trained with'
    else:
        difference = 'a supernet is not a genotype network'
        hint = ('decode a search checkpoint with tools/export_genotype.py '
                'and train that genotype')
    if difference is not None:
        raise GenotypeMismatchError(
            f'checkpoint weights of {_describe(saved)} do not fit this '
            f'network of {_describe(spec)} ({difference}); {hint}')


class MBConvNet(BaseModule):
    """Stem, stages of blocks, head conv; ``out_indices``, output stride,
    ``frozen_stages``, ``norm_eval`` and the default initialisation.

    Layout: ``conv1`` (3x3 stride-2 stem), ``layer1`` .. ``layerN`` (one
    MMEngine ``Sequential`` per stage, so MMEngine's ``init_weights``
    recursion reaches every block), ``conv2`` (1x1 head conv). Names and
    indices follow MMPretrain's/MMSeg's ``MobileNetV2``.

    A subclass calls ``super().__init__`` with the common arguments, then
    :meth:`build_layers` with its stages of block specs, and implements
    :meth:`make_block`, which turns one spec into a module.

    Checkpoints say what they are: the ``architecture`` buffer holds
    :meth:`architecture_spec` (the genotype, or the supernet's search
    space) as JSON, so a state dict carries it wherever it goes. Loading
    weights whose ``architecture`` describes another network raises
    :class:`GenotypeMismatchError` (whatever loads them: ``load_state_dict``,
    MMEngine's ``load_checkpoint``, ``Pretrained`` init, the inferencers);
    weights without one (MMPretrain's MobileNetV2, checkpoints written
    before the buffer existed) load as before.

    Args:
        out_indices (Sequence[int]): Outputs to return: ``i`` < number of
            stages is stage ``i`` (``layer{i+1}``), the number of stages (or
            -1) is the head conv. Default: (-1, ).
        output_stride (int): 32, 16 or 8: the later strides become
            dilations (DeepLab). Default: 32.
        frozen_stages (int): Freeze the stem (0) and ``layer1`` ..
            ``layer{frozen_stages}``; -1 freezes nothing. Default: -1.
        conv_cfg (dict, optional): Config of conv layers. Default: None.
        norm_cfg (dict): Config of norm layers. Default: dict(type='BN').
        act_cfg (dict): Config of activations. Default: dict(type='ReLU6').
        norm_eval (bool): Keep BN layers in eval mode while training.
            Default: False.
        init_cfg (dict | list[dict], optional): Initialisation config. None,
            or ``dict(type='Pretrained', checkpoint=None)`` ("no checkpoint
            yet", so a config can carry the Pretrained entry and a user only
            sets its ``checkpoint``), means ``default_init_cfg``.
    """

    default_init_cfg = [
        dict(type='Kaiming', layer=['Conv2d']),
        dict(type='Constant', val=1, layer=['_BatchNorm'])
    ]
    #: Build every stage and the head conv even when no output needs them
    #: (the search decodes and costs all of them).
    build_all_layers = False

    def __init__(self,
                 out_indices=(-1, ),
                 output_stride=32,
                 frozen_stages=-1,
                 conv_cfg=None,
                 norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU6'),
                 norm_eval=False,
                 init_cfg=None):
        if init_cfg is None or (isinstance(init_cfg, dict)
                                and init_cfg.get('type') == 'Pretrained'
                                and init_cfg.get('checkpoint') is None):
            init_cfg = copy.deepcopy(self.default_init_cfg)
        super().__init__(init_cfg)
        if output_stride not in (8, 16, 32):
            raise ValueError(
                f'output_stride must be 8, 16 or 32, got {output_stride}')
        self.output_stride = output_stride
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval

    def make_block(self, spec, in_channels, stride, dilation):
        """The module of one block.

        Args:
            spec (dict): The block's spec, as given to :meth:`build_layers`.
            in_channels (int): Its input channels.
            stride (int): Its stride (1 where ``output_stride`` turned the
                spec's stride 2 into a dilation).
            dilation (int): Dilation of its spatial convs.
        """
        raise NotImplementedError

    def architecture_spec(self):
        """The architecture the weights belong to, as a JSON-ready dict:
        ``{'genotype': ...}`` or ``{'search_space': ...}``."""
        raise NotImplementedError

    def build_layers(self, stem_channels, stages, head_channels):
        """Build ``conv1``, ``layer1`` .. ``layerN`` and ``conv2``.

        Args:
            stem_channels (int): Output channels of the stem.
            stages (list[list[dict]]): Block specs per stage; each has at
                least ``out_channels`` and ``stride``.
            head_channels (int): Output channels of the head conv.
        """
        self.num_stages = len(stages)
        for index in self.out_indices:
            if not -1 <= index <= self.num_stages:
                raise ValueError(
                    f'out_indices items must be in [-1, {self.num_stages}] '
                    f'for this network, got {index}')
        self.out_indices = tuple(self.num_stages if i == -1 else i
                                 for i in self.out_indices)
        if not -1 <= self.frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {self.frozen_stages}')
        cfgs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        self.conv1 = ConvModule(3, stem_channels, 3, stride=2, padding=1,
                                **cfgs)
        in_channels = stem_channels
        current_stride, dilation = 2, 1
        self.layers = []
        self.out_channels = []
        for stage_index, specs in enumerate(stages):
            layer = []
            for spec in specs:
                stride = spec['stride']
                if stride == 2 and current_stride * 2 > self.output_stride:
                    stride, dilation = 1, dilation * 2  # DeepLab: atrous
                current_stride *= stride
                layer.append(
                    self.make_block(spec, in_channels, stride, dilation))
                in_channels = spec['out_channels']
            name = f'layer{stage_index + 1}'
            self.add_module(name, Sequential(*layer))
            self.layers.append(name)
            self.out_channels.append(in_channels)
        # The head conv exists only when it is an output: a segmentor that
        # takes stage outputs would never use (nor train) it.
        if self.build_all_layers or self.num_stages in self.out_indices:
            self.conv2 = ConvModule(in_channels, head_channels, 1, **cfgs)
            self.layers.append('conv2')
            self.out_channels.append(head_channels)
        if not self.build_all_layers:
            # nothing after the last requested output is kept
            del_from = max(self.out_indices) + 1
            for name in self.layers[del_from:]:
                delattr(self, name)
            self.layers = self.layers[:del_from]
        self.register_buffer(ARCHITECTURE_KEY,
                             encode_architecture(self.architecture_spec()))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + ARCHITECTURE_KEY
        # ``state_dict`` is the loader's own copy (torch's and MMEngine's
        # load_state_dict copy it for this purpose)
        saved = state_dict.pop(key, None)
        if saved is not None:
            check_architecture(decode_architecture(saved),
                               self.architecture_spec())
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        # The buffer describes this network and is never overwritten;
        # weights saved without it load as before.
        if key in missing_keys:
            missing_keys.remove(key)

    def stages(self):
        """The stage containers ``layer1`` .. that were built."""
        return [getattr(self, name) for name in self.layers
                if name != 'conv2']

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
