"""The searched dimensions of a block, one small module each.

A dimension owns its candidates and its threshold gates. Called with the
block's current evaluation ``state`` it returns its straight-through
indicator; :meth:`SearchDimension.decode` turns that indicator into a
genotype value; ``field`` and ``part`` name the MACs axis that the cost
model (cost_model.py) builds from the candidates::

    dimension      field           part       gate score
    KernelSize     kernel_size     block      mean(w^2), a superkernel ring
    ExpandRatio    expand_ratio    block      mean(w^2), a hidden chunk
    SERatio        se_ratio        block      mean(w^2), a chunk of SE's
                                              squeeze FC
    Skip           (switch)        block      mean(w^2), the base channels
    Insertion      (switch)        non_local  mean(W_d^2) of LightNL (Eqn 10)
    CompactChoice  channel_ratio   non_local  EMA of Eqn 12's affinity distance
    CompactChoice  spatial_stride  non_local  EMA of the output distance

(``ThresholdGate`` compares every score in the log domain.)

A dimension with a ``field`` is a choice: its indicator is a one-hot over
its candidates, and it is one axis of its part's MACs table (a genotype
entry is made for every combination of candidates). A dimension without a
``field`` is a switch: its indicator is a scalar in {0, 1} that multiplies
its part (Skip: the whole block; Insertion: the non-local block) and
decodes to whether the part exists.

The block evaluates its dimensions in order, each reading what the ones
before it left in ``state`` (Single-Path NAS' nesting: the expansion score
uses the kernel positions in use, the skip score the base channels of the
chosen kernel). ``state`` keys:

- set by ``SearchableMBConv``: ``depthwise_weight`` (the superkernel,
  (hidden, 1, k_max, k_max)) and ``base_channels`` (hidden width of the
  smallest expansion);
- by :class:`KernelSize`: ``kernel_mask`` (k_max, k_max), ``positions``
  (k_chosen^2, detached) and ``channel_energy`` (hidden, ) over the kernel
  in use;
- by :class:`ExpandRatio`: ``channel_mask`` (hidden, );
- by :class:`SERatio`: ``se_mask`` (squeeze channels in use) and
  ``se_on`` (0 when the SE-0 candidate is chosen);
- set by ``SearchableLightNL``: ``depthwise_weight`` (W_d) and
  ``channel_ratio_distance`` / ``spatial_stride_distance`` (EMAs);
- ``calibrate`` (bool, optional): calibrate every gate on its current score
  before using it (``ThresholdGate.calibrate``).

A new dimension is one more subclass: its candidates, its score, its
``field`` and ``part``; the block adds it to its ``dims`` and applies the
choice in its forward pass.
"""
import torch
from torch import nn

from ..models.utils.widths import hidden_channels, se_channels
from .gates import ThresholdGate, first_under_threshold, nested_one_hot


class SearchDimension(nn.Module):
    """One searched choice of a block.

    Args:
        candidates (Sequence): The candidates, in the order of the one-hot
            indicator.
    """

    #: genotype field the choice decodes into; None for a switch
    field = None
    #: 'block' or 'non_local': the MACs table this dimension is an axis of
    #: (a choice) or multiplies (a switch)
    part = 'block'

    def __init__(self, candidates):
        super().__init__()
        self.candidates = tuple(candidates)

    def forward(self, state):
        """The straight-through indicator from the block's ``state``."""
        raise NotImplementedError

    @staticmethod
    def decide(gate, score, state):
        """``gate(score)``, calibrating the gate on ``score`` first when the
        block asks for it (``state['calibrate']``)."""
        if state.get('calibrate'):
            gate.calibrate(score)
        return gate(score)

    def decode(self, indicator):
        """The genotype value of a hard indicator."""
        if self.field is None:  # a switch
            return indicator.item() >= 0.5
        return self.candidates[int(indicator.argmax())]

    def extra_repr(self):
        return f'candidates={self.candidates}'


class NestedChoice(SearchDimension):
    """Single-Path NAS' nested candidates: candidate ``j`` is chosen when
    the gates of candidates ``2..j`` are on (one gate per candidate after
    the first).

    Args:
        candidates (Sequence): Sorted candidates, smallest first.
        gate_cfg (dict): ``ThresholdGate`` arguments.
    """

    def __init__(self, candidates, gate_cfg):
        super().__init__(candidates)
        self.gates = nn.ModuleList(
            ThresholdGate(**gate_cfg) for _ in self.candidates[1:])

    def decode(self, indicator):
        # a whole number as an int (expansion 6, SE 0), as genotypes write it
        value = super().decode(indicator)
        return int(value) if float(value).is_integer() else value


class KernelSize(NestedChoice):
    """Kernel size of the superkernel: ring ``j`` (positions of kernel
    ``j`` that kernel ``j-1`` does not have) is used when the gates of
    rings ``2..j`` are on; the gate of ring ``j`` is
    ``1[mean(w_ring_j^2) > t]`` over the base channels."""

    field = 'kernel_size'

    def __init__(self, candidates, gate_cfg):
        super().__init__(sorted(candidates), gate_cfg)
        max_kernel = self.candidates[-1]
        rings = torch.zeros(len(self.candidates), max_kernel, max_kernel)
        previous = torch.zeros(max_kernel, max_kernel)
        for j, k in enumerate(self.candidates):
            inside = torch.zeros(max_kernel, max_kernel)
            lo = (max_kernel - k) // 2
            inside[lo:lo + k, lo:lo + k] = 1
            rings[j] = inside - previous
            previous = inside
        self.register_buffer('rings', rings, persistent=False)

    def forward(self, state):
        energy = state['depthwise_weight'].pow(2).sum(1)  # (hidden, k, k)
        base = state['base_channels']
        ring_sizes = self.rings.flatten(1).sum(1)
        gates = []
        for j, gate in enumerate(self.gates, start=1):
            ring = self.rings[j]
            score = (energy[:base] * ring).sum() / (base * ring_sizes[j])
            gates.append(self.decide(gate, score, state))
        kernel = nested_one_hot(gates, state['like'])  # (n_k, )
        # used[j] = rings 1..j on = sum of one-hot entries >= j
        used = kernel.flip(0).cumsum(0).flip(0)
        kernel_mask = (used[:, None, None] * self.rings).sum(0)
        state.update(
            kernel_mask=kernel_mask,
            positions=(used.detach() * ring_sizes).sum(),  # k_chosen^2
            channel_energy=(energy * kernel_mask).flatten(1).sum(1))
        return kernel


class ExpandRatio(NestedChoice):
    """Expansion of the superkernel block: hidden channels
    ``round(C_in e_max)`` whose first ``round(C_in e)`` are the expansion-e
    choice; chunk ``j`` is used when the gates of chunks ``2..j`` are on,
    chunk ``j``'s gate being ``1[mean(w^2) > t]`` over its channels and the
    kernel positions in use.

    Args:
        in_channels (int): Input channels of the block.
        candidates (Sequence[float]): Expansion ratios.
        gate_cfg (dict): ``ThresholdGate`` arguments.
    """

    field = 'expand_ratio'

    def __init__(self, in_channels, candidates, gate_cfg):
        super().__init__(sorted(candidates), gate_cfg)
        self.hidden_sizes = [
            hidden_channels(in_channels, e) for e in self.candidates
        ]

    def forward(self, state):
        channel_energy, positions = state['channel_energy'], \
            state['positions']
        gates = []
        for j, gate in enumerate(self.gates, start=1):
            lo, hi = self.hidden_sizes[j - 1], self.hidden_sizes[j]
            score = channel_energy[lo:hi].sum() / ((hi - lo) * positions)
            gates.append(self.decide(gate, score, state))
        expand = nested_one_hot(gates, state['like'])  # (n_e, )
        chunk_used = expand.flip(0).cumsum(0).flip(0)
        state['channel_mask'] = torch.cat([
            chunk_used[j].expand(hi - lo) for j, (lo, hi) in enumerate(
                zip([0] + self.hidden_sizes[:-1], self.hidden_sizes))
        ])
        return expand


class SERatio(NestedChoice):
    """SE ratio: the superkernel's SE has the squeeze width of the largest
    ratio; ratio ``r`` uses its first ``se_channels(C_in, r)`` squeeze
    channels (0: no SE). Chunk ``j`` of squeeze channels is used when the
    gates of chunks ``1..j`` are on, chunk ``j``'s gate being
    ``1[log mean(w^2) > t]`` over its rows of the squeeze FC and the hidden
    channels in use.

    Args:
        in_channels (int): Input channels of the block.
        candidates (Sequence[float]): SE ratios (0 = no SE).
        gate_cfg (dict): ``ThresholdGate`` arguments.
    """

    field = 'se_ratio'

    def __init__(self, in_channels, candidates, gate_cfg):
        super().__init__(sorted(candidates), gate_cfg)
        self.squeeze_sizes = [
            se_channels(in_channels, r) if r > 0 else 0
            for r in self.candidates
        ]
        if any(a >= b for a, b in zip(self.squeeze_sizes,
                                      self.squeeze_sizes[1:])):
            raise ValueError(
                f'SE ratios {self.candidates} give squeeze widths '
                f'{self.squeeze_sizes} for {in_channels} input channels; '
                'they must differ')

    def forward(self, state):
        weight = state['se_weight'].flatten(1)  # (squeeze, hidden)
        hidden = state['channel_mask'].detach().to(weight.dtype)
        energy = weight.pow(2) @ hidden  # (squeeze, ) over channels in use
        gates = []
        for j, gate in enumerate(self.gates, start=1):
            lo, hi = self.squeeze_sizes[j - 1], self.squeeze_sizes[j]
            score = energy[lo:hi].sum() / ((hi - lo) * hidden.sum())
            gates.append(self.decide(gate, score, state))
        se = nested_one_hot(gates, state['like'])  # (n_se, )
        chunk_used = se.flip(0).cumsum(0).flip(0)
        bounds = [0] + self.squeeze_sizes
        state['se_mask'] = torch.cat([
            chunk_used[j].expand(bounds[j + 1] - bounds[j])
            for j in range(len(self.candidates))
        ])
        # the first candidate is 'no SE' when its squeeze width is 0
        state['se_on'] = 1 - se[0] if self.squeeze_sizes[0] == 0 else \
            state['like']
        return se


class Skip(SearchDimension):
    """Single-Path NAS' skip: the "smallest expansion" gate
    ``1[mean(w_base^2) > t]`` over the base channels (kernel positions in
    use); when it is off the block's output is its input. Indicator: the
    scalar ``keep``.

    Args:
        gate_cfg (dict): ``ThresholdGate`` arguments.
    """

    def __init__(self, gate_cfg):
        super().__init__((False, True))
        self.gate = ThresholdGate(**gate_cfg)

    def forward(self, state):
        base = state['base_channels']
        return self.decide(
            self.gate,
            state['channel_energy'][:base].sum() /
            (base * state['positions']), state)


class Insertion(SearchDimension):
    """Eqn 10, whether a LightNL block is inserted:
    ``1[log mean(W_d^2) > t]``.

    Args:
        gate_cfg (dict): ``ThresholdGate`` arguments.
    """

    part = 'non_local'

    def __init__(self, gate_cfg):
        super().__init__((False, True))
        self.gate = ThresholdGate(**gate_cfg)

    @staticmethod
    def score(state):
        return state['depthwise_weight'].pow(2).mean()

    def forward(self, state):
        return self.decide(self.gate, self.score(state), state)


class CompactChoice(SearchDimension):
    """Eqn 12-13 along one axis of LightNL's compactness (``field``
    'channel_ratio' or 'spatial_stride'): the first (most compact)
    candidate whose distance EMA is under the threshold; the reference
    (last candidate) when none is.

    Args:
        field (str): 'channel_ratio' or 'spatial_stride'.
        candidates (Sequence): Most compact first, the reference last.
        gate_cfg (dict): ``ThresholdGate`` arguments (``direction='below'``
            is set here).
    """

    part = 'non_local'

    def __init__(self, field, candidates, gate_cfg):
        super().__init__(candidates)
        self.field = field
        self.gate = ThresholdGate(direction='below', **gate_cfg)

    def forward(self, state):
        distances = state[f'{self.field}_distance'].to(state['like'].dtype)
        if state.get('calibrate'):
            # off by the margin from the most similar compact candidate
            self.gate.calibrate(distances[:-1].min())
        return first_under_threshold(self.gate, distances)
