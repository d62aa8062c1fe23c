"""The non-local blocks compared in Table 1 of AutoNL, as one module.

Every row of the ablation (Table 1) is a ``variant`` of
:class:`NonLocalVariant`; :func:`nonlocal_variant_macs` gives the MACs of one
block as the paper counts them, so a FLOPs tool can print them beside a
measured count.
"""
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .light_nl import (LightNL, check_non_local_args, light_nl_macs,
                       matmul_macs, non_local_aggregate)

#: variant name -> 1x1 convs it applies (excluding W_z) and its association.
#: 'wang' keeps the explicit HW x HW affinity; the others take the cheaper one.
VARIANT_TRANSFORMS = {
    'wang': ('theta', 'phi', 'g'),
    'levi': ('theta', 'phi', 'g'),
    'eqn3': ('theta', 'g'),
    'eqn5': ('g', ),
    'eqn7': (),
    'eqn9': (),
    'lightnl': (),
}
VARIANTS = tuple(VARIANT_TRANSFORMS)


def _check_variant(variant):
    if variant not in VARIANT_TRANSFORMS:
        raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')


def dot_product_macs(query_channels, value_channels, positions,
                     context_positions):
    """MACs of both associations of ``y_i = sum_j (q_i . k_j) v_j``.

    Args:
        query_channels (int): Channels of the query and key.
        value_channels (int): Channels of the value.
        positions (int): Query positions (HW).
        context_positions (int): Key/value positions (HW').

    Returns:
        tuple[int, int]: (affinity-order MACs, Gram-order MACs). The affinity
        order builds the HW x HW' matrix ``q k^T`` first, the Gram order the
        value_channels x query_channels matrix ``k^T v`` first (Eqn 4).
    """
    affinity = positions * context_positions * (query_channels +
                                                value_channels)
    gram = (positions + context_positions) * query_channels * value_channels
    return affinity, gram


def dot_product_nonlocal(query, key, value, order='auto'):
    """``y = q k^T v / HW`` (Eqn 3-7) in either association (Eqn 4).

    Args:
        query (Tensor): (N, Cq, HW).
        key (Tensor): (N, Cq, HW').
        value (Tensor): (N, Cv, HW').
        order (str): 'auto' (cheaper one), 'affinity' or 'gram'.

    Returns:
        Tensor: (N, Cv, HW), normalised by HW (the query positions).
    """
    positions = query.shape[2]
    if order == 'auto':
        affinity, gram = dot_product_macs(query.shape[1], value.shape[1],
                                          positions, key.shape[2])
        order = 'affinity' if affinity < gram else 'gram'
    if order == 'affinity':
        # (HW', Cq) x (Cq, HW) -> (N, HW', HW); then (Cv, HW') x (HW', HW)
        y = torch.bmm(value, torch.bmm(key.transpose(1, 2), query))
    elif order == 'gram':
        # (Cv, HW') x (HW', Cq) -> (N, Cv, Cq); then (Cv, Cq) x (Cq, HW)
        y = torch.bmm(torch.bmm(value, key.transpose(1, 2)), query)
    else:
        raise ValueError(f"order must be 'auto', 'affinity' or 'gram', "
                         f'got {order!r}')
    return y / positions


def nonlocal_variant_macs(variant,
                          channels,
                          height,
                          width,
                          channel_ratio=0.25,
                          spatial_stride=1):
    """MACs of one :class:`NonLocalVariant` block, as the paper counts them.

    Convolutions and matrix products only; BN, the division by HW and the
    residual add count nothing. With ``n`` the number of C->C 1x1 convs
    (the transforms plus W_z), ``HW = height * width``:

    - 'wang': ``4 C^2 HW + 2 HW^2 C`` (theta, phi, g, W_z; explicit
      HW x HW affinity).
    - 'levi': ``4 C^2 HW + min(2 HW^2 C, 2 HW C^2)``.
    - 'eqn3', 'eqn5', 'eqn7': ``n C^2 HW + min(2 HW^2 C, 2 HW C^2)`` with
      n = 3, 2, 1.
    - 'eqn9': the cheaper order of Eqn 9 (:func:`matmul_macs`) + ``C^2 HW``.
    - 'lightnl': :func:`light_nl_macs` (cheaper order + ``9 C HW``).

    ``channel_ratio`` and ``spatial_stride`` only matter for 'eqn9' and
    'lightnl'.

    Returns:
        int: MACs of one block for one image.
    """
    _check_variant(variant)
    positions = height * width
    if variant == 'lightnl':
        return light_nl_macs(channels, height, width, channel_ratio,
                             spatial_stride)
    conv_1x1 = channels * channels * positions
    if variant == 'eqn9':
        return min(
            matmul_macs(channels, height, width, channel_ratio,
                        spatial_stride)) + conv_1x1
    affinity, gram = dot_product_macs(channels, channels, positions,
                                      positions)
    matmul = affinity if variant == 'wang' else min(affinity, gram)
    num_convs = len(VARIANT_TRANSFORMS[variant]) + 1  # + W_z
    return num_convs * conv_1x1 + matmul


@MODELS.register_module()
class NonLocalVariant(BaseModule):
    """The non-local blocks of the AutoNL ablation (Table 1), one per variant.

    Every variant computes ``z = W_z(y) + x`` with a dot-product non-local
    operation ``y`` normalised by ``C(x) = HW`` and no softmax (as in the
    paper, so that the association can be chosen freely and all rows are
    comparable). Shapes below use the paper's (HW, C) convention.

    - ``'wang'``: Wang et al. NL block. ``y = theta(x) phi(x)^T g(x) / HW``
      with theta, phi, g 1x1 convs C->C (no channel halving), the HW x HW
      affinity ``theta phi^T`` computed explicitly first, then W_z.
    - ``'levi'``: Levi et al.: same transforms and wrapper as 'wang', but the
      product is associated whichever way is cheaper for the input shape
      (Eqn 4): ``(theta phi^T) g`` or ``theta (phi^T g)``.
    - ``'eqn3'``: Eqn 3, ``y = theta(x) theta(x)^T g(x) / HW``; theta and g
      1x1 convs C->C, cheaper association, W_z a 1x1 conv.
    - ``'eqn5'``: Eqn 5, one shared transform, ``y = g(x) g(x)^T g(x) / HW``.
    - ``'eqn7'``: Eqn 7, no transform, ``y = x x^T x / HW``.
    - ``'eqn9'``: Eqn 9, compact features,
      ``y = x_c x_sc^T x_s / HW`` (:func:`non_local_aggregate`, first
      ``int(r C)`` channels, every ``s``-th row/column), W_z still a 1x1 conv.
    - ``'lightnl'``: Eqn 9 + Eqn 8, W_z replaced by a depthwise 3x3 conv and
      BN. Delegates to :class:`LightNL` (held as ``self.light_nl``), which is
      this row of the table.

    All 1x1 convs (theta, phi, g, W_z) have ``bias=False``: a bias in
    theta/phi/g would add a rank-one term to the affinity, and the paper's
    MAC count has none. The block starts as the identity: W_z's weight is
    zero-initialised, or, with ``norm_cfg``, the norm after W_z has its gamma
    and beta set to zero instead (as Wang et al. do with BN).

    MACs at 224x224 over the 17 blocks of MobileNetV2 (see
    :func:`nonlocal_variant_macs`) reproduce Table 1 when 'wang' and 'levi'
    count four 1x1 convs (theta, phi, g, W_z): 6.25G (6.2G), 146M (146M),
    119M (119M), 93M (93M), 66M (66M); 'eqn9' with r=0.25 and s=2 above
    14x14 gives 36M (paper 38M; with s=1 everywhere it gives 38.0M, so the
    table's Eqn 9 row likely compacted channels only) and 'lightnl' 14.8M
    (15M).

    Args:
        in_channels (int): Channels C of the input (and output).
        variant (str): One of 'wang', 'levi', 'eqn3', 'eqn5', 'eqn7',
            'eqn9', 'lightnl'. Default: 'eqn7'.
        channel_ratio (float): Channel ratio r of the compact features
            ('eqn9', 'lightnl' only). Default: 0.25.
        spatial_stride (int): Spatial stride s of the compact features
            ('eqn9', 'lightnl' only). Default: 1.
        norm_cfg (dict, optional): Norm after W_z. None means no norm for
            the 1x1 W_z variants and ``dict(type='BN')`` for 'lightnl'.
            Default: None.
        matmul_order (str): 'auto' uses the variant's own rule (explicit
            affinity for 'wang', the cheaper association for the others);
            'affinity' / 'gram' force one. Default: 'auto'.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'nl_variant'

    def __init__(self,
                 in_channels,
                 variant='eqn7',
                 channel_ratio=0.25,
                 spatial_stride=1,
                 norm_cfg=None,
                 matmul_order='auto',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        _check_variant(variant)
        check_non_local_args(in_channels, channel_ratio, spatial_stride,
                             matmul_order)
        self.in_channels = in_channels
        self.variant = variant
        self.channel_ratio = channel_ratio
        self.spatial_stride = spatial_stride
        if matmul_order == 'auto' and variant == 'wang':
            matmul_order = 'affinity'
        self.matmul_order = matmul_order

        # 'lightnl' keeps its W_z (depthwise conv + norm) inside LightNL.
        self.with_norm = norm_cfg is not None and variant != 'lightnl'
        if variant == 'lightnl':
            self.light_nl = LightNL(
                in_channels,
                channel_ratio=channel_ratio,
                spatial_stride=spatial_stride,
                norm_cfg=norm_cfg or dict(type='BN'),
                matmul_order=matmul_order)
        else:
            for name in VARIANT_TRANSFORMS[variant]:
                self.add_module(name, self._conv1x1())
            self.w_z = self._conv1x1()
            if self.with_norm:
                self.norm_name, norm = build_norm_layer(norm_cfg, in_channels)
                self.add_module(self.norm_name, norm)
            self._zero_init_last()

    def _conv1x1(self):
        return nn.Conv2d(
            self.in_channels, self.in_channels, kernel_size=1, bias=False)

    @property
    def norm(self):
        return getattr(self, self.norm_name) if self.with_norm else None

    def _zero_init_last(self):
        if self.variant == 'lightnl':
            return  # LightNL zero-inits its own BN
        if self.with_norm:
            nn.init.zeros_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)
        else:
            nn.init.zeros_(self.w_z.weight)

    def init_weights(self):
        super().init_weights()
        # A Kaiming/Normal init_cfg must not undo the identity start.
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            self._zero_init_last()

    def non_local(self, x):
        """The non-local operation ``y`` of the variant, shape of ``x``."""
        n, c, h, w = x.shape
        if self.variant == 'eqn9':
            return non_local_aggregate(x, self.channel_ratio,
                                       self.spatial_stride, self.matmul_order)
        if self.variant in ('wang', 'levi'):
            query = self.theta(x).flatten(2)  # (N, C, HW)
            key = self.phi(x).flatten(2)
            value = self.g(x).flatten(2)
        elif self.variant == 'eqn3':
            query = key = self.theta(x).flatten(2)
            value = self.g(x).flatten(2)
        elif self.variant == 'eqn5':
            query = key = value = self.g(x).flatten(2)
        else:  # eqn7
            query = key = value = x.flatten(2)
        y = dot_product_nonlocal(query, key, value, self.matmul_order)
        return y.view(n, c, h, w)

    def forward(self, x):
        if self.variant == 'lightnl':
            return self.light_nl(x)
        z = self.w_z(self.non_local(x))
        if self.with_norm:
            z = self.norm(z)
        return z + x

    def extra_repr(self):
        s = f'in_channels={self.in_channels}, variant={self.variant!r}'
        if self.variant in ('eqn9', 'lightnl'):
            s += (f', channel_ratio={self.channel_ratio}, '
                  f'spatial_stride={self.spatial_stride}')
        return s
