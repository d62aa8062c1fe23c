"""A LightNL block whose insertion and compactness are searched (Sec. 3.2).

Insertion (Eqn 10): ``g = 1[log mean(W_d^2) > t]``. The gate multiplies the
whole branch, ``z = x + g * BN(DWConv(y, W_d))``, rather than only ``W_d``:
in training mode ``BN(0) = beta``, so zeroing ``W_d`` alone would not give
``z = x``.

Compactness (Eqn 11-13), searched separately along channels and space:

- channel ratios ``r_1 < ... < r_n`` (reference ``r_n``): Eqn 12's affinity
  distances ``||A_r / k_r - A_ref / K||^2 / ||A_ref / K||^2`` with
  ``A_r = x_r^T x_r`` (HW x HW) and ``k_r = int(r C)`` channels. Dividing by
  the channel count compares the affinity *patterns* (the BN after the
  depthwise conv removes any global scale of y); dividing by the
  reference's norm makes one threshold scale fit every block. The HW x HW
  matrices are never formed: with ``S = x_K x_K^T`` (K x K, K = k_ref),
  ``||A_r||^2 = ||S[:k, :k]||^2``, ``<A_r, A_ref> = ||S[:k, :]||^2`` and
  ``||A_ref||^2 = ||S||^2`` (``||P^T Q||^2 = <P P^T, Q Q^T>``).
- spatial strides ``s`` (reference 1): the paper gives no formula. We
  compare the non-local outputs at the reference ratio,
  ``||rho_s y_s - y_1||^2 / ||y_1||^2`` with ``rho_s = HW / HW'_s`` (= s^2
  when s divides H and W) so that the subsampled sum estimates the full
  one. With ``y_s = G_s x_c`` (``G_s = x_s x_sc^T``, C x K) this is
  ``<D S, D> / <G_1 S, G_1>`` with ``D = G_1 - rho_s G_s``: no output is
  formed either.

The decision uses EMAs of the batch distances (buffers; BN-style momentum,
the first batch initialises them): Eqn 12 in training, Eqn 13 afterwards.
The distances are detached: only the thresholds learn from them.

Reuse (Eqn 14): with slicing, ``G_s[:, :k_r]`` is the Gram of every smaller
ratio, so the largest ratio's Grams are computed once (one per stride) and
sliced. The forward pass mixes the candidates with their one-hot
straight-through indicators ``c_r``, ``c_s``:
``y = sum_{r,s} c_r c_s G_s[:, :k_r] x_c[:k_r] / HW
   = ((sum_s c_s G_s) * m) x_c / HW`` with the channel mask
``m = sum_r c_r 1[channel < k_r]``: one product whatever the number of
ratio candidates. ``reuse=False`` computes every candidate separately
(the naive baseline of the benchmark; same numbers).
"""
import torch
from mmengine.dist import all_reduce
from mmengine.registry import MODELS
from torch import nn

from ..models.plugins.light_nl import LightNL, compact_channels
from .dimensions import CompactChoice, Insertion


@MODELS.register_module()
class SearchableLightNL(LightNL):
    """LightNL with a searchable insertion gate, channel ratio and spatial
    stride.

    The depthwise conv W_d, the norm, their identity start and
    ``output_transform`` (Eqn 8) are LightNL's; the search replaces the
    non-local operation by the mix of the candidates and gates the branch.
    Its dimensions (``dims``: ``insert``, ``channel_ratio``,
    ``spatial_stride``) are those of dimensions.py.

    Args:
        in_channels (int): Channels C of the input (and output).
        channel_ratios (Sequence[float]): Candidate channel ratios; the
            largest is the reference. Default: (0.125, 0.25, 0.5).
        spatial_strides (Sequence[int]): Candidate spatial strides; must
            contain 1 (the reference). Default: (2, 1).
        norm_cfg (dict): Norm after the depthwise conv.
            Default: dict(type='BN').
        insert_gate_cfg (dict): ``ThresholdGate`` arguments of the insertion
            gate (score: mean square of ``W_d``). Default: dict().
        compact_gate_cfg (dict): ``ThresholdGate`` arguments of the channel
            and spatial gates (score: relative distance EMA). Default:
            dict().
        ema_momentum (float): Weight of the new batch in the distance EMAs.
            Default: 0.1.
        reuse (bool): Eqn 14 reuse of the largest ratio's Gram. False
            computes each candidate separately. Default: True.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 in_channels,
                 channel_ratios=(0.125, 0.25, 0.5),
                 spatial_strides=(2, 1),
                 norm_cfg=dict(type='BN'),
                 insert_gate_cfg=dict(),
                 compact_gate_cfg=dict(),
                 ema_momentum=0.1,
                 reuse=True,
                 init_cfg=None):
        channel_ratios = tuple(sorted(float(r) for r in channel_ratios))
        spatial_strides = tuple(
            sorted((int(s) for s in spatial_strides), reverse=True))
        if spatial_strides[-1] != 1:
            raise ValueError('spatial_strides must contain 1 (the '
                             f'reference), got {spatial_strides}')
        if not 0 < ema_momentum <= 1:
            raise ValueError(f'ema_momentum must be in (0, 1], got '
                             f'{ema_momentum}')
        # LightNL at the reference candidate: W_d, the norm, identity start
        super().__init__(
            in_channels,
            channel_ratio=channel_ratios[-1],
            spatial_stride=1,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
        self.channel_ratios = channel_ratios
        self.spatial_strides = spatial_strides
        self.channels = [compact_channels(in_channels, r)
                         for r in self.channel_ratios]
        self.ema_momentum = ema_momentum
        self.reuse = reuse

        self.dims = nn.ModuleDict(
            dict(
                insert=Insertion(insert_gate_cfg),
                channel_ratio=CompactChoice('channel_ratio', channel_ratios,
                                            compact_gate_cfg),
                spatial_stride=CompactChoice('spatial_stride',
                                             spatial_strides,
                                             compact_gate_cfg)))
        # +inf = "no batch seen yet": the reference is chosen.
        self.register_buffer(
            'channel_distance_ema',
            torch.full((len(self.channel_ratios), ), float('inf')))
        self.register_buffer(
            'spatial_distance_ema',
            torch.full((len(self.spatial_strides), ), float('inf')))
        self.register_buffer('num_ema_updates', torch.zeros((),
                                                            dtype=torch.long))
        # ratio_masks[i, j] = 1[channel j < k_i], (n_ratios, K)
        position = torch.arange(self.channels[-1])
        self.register_buffer(
            'ratio_masks',
            torch.stack([(position < k).float() for k in self.channels]),
            persistent=False)

    # ------------------------------------------------------------ gates --
    def indicators(self, calibrate=False):
        """Straight-through indicators from the current weights and EMAs,
        one per dimension: ``insert`` (scalar), ``channel_ratio`` (one-hot
        over ``channel_ratios``), ``spatial_stride`` (one-hot over
        ``spatial_strides``, most compact first). ``calibrate``: calibrate
        the gates on their current scores first."""
        weight = self.depthwise_conv.weight
        state = dict(
            depthwise_weight=weight,
            like=weight.new_ones(()),
            calibrate=calibrate,
            channel_ratio_distance=self.channel_distance_ema,
            spatial_stride_distance=self.spatial_distance_ema)
        return {name: dim(state) for name, dim in self.dims.items()}

    def genotype_entry(self, **choices):
        """The genotype ``non_local`` entry with the given field values."""
        return dict(type='LightNL', **choices)

    def decode(self):
        """``None`` or the ``non_local`` genotype entry (Eqn 13)."""
        with torch.no_grad():
            indicators = self.indicators()
        if not self.dims['insert'].decode(indicators['insert']):
            return None
        return self.genotype_entry(
            **{dim.field: dim.decode(indicators[name])
               for name, dim in self.dims.items() if dim.field})

    # ------------------------------------------------------ computation --
    def _subsample(self, x, stride):
        return x if stride == 1 else x[:, :, ::stride, ::stride]

    def _grams(self, x):
        """Eqn 14: ``G_s = x_s x_sc^T`` (N, C, K) for the largest ratio, one
        per stride (the smaller ratios are its first columns)."""
        k = self.channels[-1]
        grams = []
        for stride in self.spatial_strides:
            x_s = self._subsample(x, stride).flatten(2)  # (N, C, HW')
            grams.append(torch.bmm(x_s, x_s[:, :k].transpose(1, 2)))
        return grams

    def _distances_from_grams(self, grams, hw, hw_strided):
        """Batch-mean relative distances, from the reference Grams only."""
        k_ref = self.channels[-1]
        gram_1 = grams[-1].double()  # (N, C, K), stride 1
        s = gram_1[:, :k_ref]  # (N, K, K) = x_K x_K^T
        sq = s.pow(2)
        ref = sq.sum((1, 2))  # ||A_ref||^2
        channel = []
        for k in self.channels:
            own = sq[:, :k, :k].sum((1, 2))  # ||A_r||^2
            cross = sq[:, :k].sum((1, 2))  # <A_r, A_ref>
            scale = k_ref / k
            channel.append((own * scale**2 - 2 * cross * scale + ref) /
                           ref.clamp_min(1e-30))
        ref_out = ((gram_1 @ s) * gram_1).sum((1, 2))  # ||G_1 x_c||^2
        spatial = []
        for gram, n_pos in zip(grams, hw_strided):
            diff = gram_1 - (hw / n_pos) * gram.double()
            spatial.append(((diff @ s) * diff).sum((1, 2)) /
                           ref_out.clamp_min(1e-30))
        return (torch.stack(channel, 1).clamp_min(0).mean(0),
                torch.stack(spatial, 1).clamp_min(0).mean(0))

    def _strided_positions(self, h, w):
        return [
            len(range(0, h, s)) * len(range(0, w, s))
            for s in self.spatial_strides
        ]

    def _naive_candidates(self, x, with_distances):
        """Every (ratio, stride) candidate on its own: outputs and distances
        from per-candidate products (the benchmark's baseline)."""
        n, c, h, w = x.shape
        x_flat = x.flatten(2)
        k_ref = self.channels[-1]
        outputs = {}
        for stride in self.spatial_strides:
            x_s = self._subsample(x, stride).flatten(2)
            for k in self.channels:
                gram = torch.bmm(x_s, x_s[:, :k].transpose(1, 2))  # (N, C, k)
                outputs[(k, stride)] = torch.bmm(gram, x_flat[:, :k])
        if not with_distances:
            return outputs, None
        with torch.no_grad():
            x_ref = x_flat[:, :k_ref].double()
            s_ref = torch.bmm(x_ref, x_ref.transpose(1, 2))
            ref = s_ref.pow(2).sum((1, 2))
            channel = []
            for k in self.channels:
                x_k = x_flat[:, :k].double()
                own = torch.bmm(x_k, x_k.transpose(1, 2)).pow(2).sum((1, 2))
                cross = torch.bmm(x_k,
                                  x_ref.transpose(1, 2)).pow(2).sum((1, 2))
                scale = k_ref / k
                channel.append((own * scale**2 - 2 * cross * scale + ref) /
                               ref.clamp_min(1e-30))
            y_ref = outputs[(k_ref, 1)].double()
            spatial = []
            for stride, n_pos in zip(self.spatial_strides,
                                     self._strided_positions(h, w)):
                diff = y_ref - (h * w / n_pos) * \
                    outputs[(k_ref, stride)].double()
                spatial.append(diff.pow(2).sum((1, 2)) /
                               y_ref.pow(2).sum((1, 2)).clamp_min(1e-30))
        return outputs, (torch.stack(channel, 1).clamp_min(0).mean(0),
                         torch.stack(spatial, 1).clamp_min(0).mean(0))

    def _reused_candidates(self, x, with_distances):
        grams = self._grams(x)
        if not with_distances:
            return grams, None
        n, c, h, w = x.shape
        with torch.no_grad():
            distances = self._distances_from_grams(
                [g.detach() for g in grams], h * w,
                self._strided_positions(h, w))
        return grams, distances

    def batch_distances(self, x):
        """Relative channel and spatial distances of one batch (detached):
        ``(channel (n_ratios, ), spatial (n_strides, ))``."""
        with torch.no_grad():
            if self.reuse:
                return self._reused_candidates(x, True)[1]
            return self._naive_candidates(x, True)[1]

    @torch.no_grad()
    def update_ema(self, channel, spatial):
        """BN-style EMA update; the batch values are averaged over
        processes first so that every rank decodes the same network."""
        stats = torch.cat([channel, spatial]).to(
            self.channel_distance_ema.dtype)
        all_reduce(stats, 'mean')
        channel, spatial = stats[:len(channel)], stats[len(channel):]
        # the first batch sets the EMA (it starts at inf); no Python branch
        # on a tensor (no GPU sync, no graph break under torch.compile)
        first = self.num_ema_updates == 0
        m = self.ema_momentum
        for ema, batch in ((self.channel_distance_ema, channel),
                           (self.spatial_distance_ema, spatial)):
            ema.copy_(torch.where(first, batch, ema * (1 - m) + batch * m))
        self.num_ema_updates += 1

    def _mix(self, candidates, x, indicators):
        """Eqn 11 with the one-hot indicators: ``sum c_r c_s y_{r,s}``."""
        n, c, h, w = x.shape
        c_ratio = indicators['channel_ratio'].to(x.dtype)
        c_stride = indicators['spatial_stride'].to(x.dtype)
        if not self.reuse:
            y = sum(c_ratio[i] * c_stride[j] * candidates[(k, s)]
                    for i, k in enumerate(self.channels)
                    for j, s in enumerate(self.spatial_strides))
            return (y / (h * w)).view(n, c, h, w)
        k_ref = self.channels[-1]
        gram = sum(c_stride[j] * g for j, g in enumerate(candidates))
        # m = sum_r c_r 1[channel < k_r]  (K, )
        mask = c_ratio @ self.ratio_masks.to(x.dtype)
        y = torch.bmm(gram * mask, x.flatten(2)[:, :k_ref])  # (N, C, HW)
        return (y / (h * w)).view(n, c, h, w)

    def aggregate(self, x, indicators=None):
        """The mixed non-local output ``y`` (before the depthwise conv)."""
        indicators = indicators or self.indicators()
        compute = self._reused_candidates if self.reuse else \
            self._naive_candidates
        return self._mix(compute(x, False)[0], x, indicators)

    def forward(self, x):
        compute = self._reused_candidates if self.reuse else \
            self._naive_candidates
        candidates, distances = compute(x, self.training)
        if self.training:
            self.update_ema(*distances)
        indicators = self.indicators()
        y = self._mix(candidates, x, indicators)
        # Eqn 10's gate multiplies the whole branch: in training mode
        # BN(0) = beta, so zeroing W_d alone would not give z = x.
        return x + indicators['insert'].to(x.dtype) * self.output_transform(y)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, channel_ratios='
                f'{self.channel_ratios}, spatial_strides='
                f'{self.spatial_strides}, reuse={self.reuse}')
