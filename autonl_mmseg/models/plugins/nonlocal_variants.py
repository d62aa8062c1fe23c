"""The non-local blocks compared in Table 1 of AutoNL, one class per row.

Every row wraps a dot-product non-local operation ``y`` (normalised by
``C(x) = HW``, no softmax, so that the association can be chosen freely and
all rows are comparable) as ``z = W_z(y) + x``. The last row of the table,
Eqn 9 + Eqn 8, is :class:`~.light_nl.LightNL` itself.

Each class is registered, has ``in_channels`` first and starts as the
identity (an MMCV plugin), and has a ``macs`` classmethod: the MACs of one
block as the paper counts them, which ``complexity.non_local_macs`` looks up
by the ``type`` of a genotype's ``non_local`` field. So a genotype can place
any row after any block, and ``get_flops.py --paper-tables`` builds Table 1
from genotypes.

MACs at 224x224 over the 17 blocks of MobileNetV2 reproduce Table 1 when
the Wang et al. and Levi et al. rows count four 1x1 convs (theta, phi, g,
W_z): 6.25G (6.2G), 146M (146M), 119M (119M), 93M (93M), 66M (66M);
Eqn 9 with r=0.25 and s=2 above 14x14 gives 36M (paper 38M; with s=1
everywhere it gives 38.0M, so the table's Eqn 9 row likely compacted
channels only) and LightNL 14.8M (15M).
"""
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .light_nl import check_non_local_args, matmul_macs, non_local_aggregate


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


class DotProductNonLocal(BaseModule):
    """``z = W_z(y) + x`` around a dot-product non-local operation ``y``;
    the base of the Table 1 rows with a 1x1 W_z.

    A subclass names its C->C 1x1 transforms (``transforms``, built as
    submodules of those names) and implements :meth:`non_local`. All 1x1
    convs (the transforms and W_z) have ``bias=False``: a bias in theta/phi/g
    would add a rank-one term to the affinity, and the paper's MAC count has
    none. The block starts as the identity: W_z's weight is zero-initialised,
    or, with ``norm_cfg``, the norm after W_z has its gamma and beta set to
    zero instead (as Wang et al. do with BN).

    Args:
        in_channels (int): Channels C of the input (and output).
        norm_cfg (dict, optional): Norm after W_z; None for none.
            Default: None.
        matmul_order (str): 'auto' uses the row's own rule (the cheaper
            association, or the explicit affinity for Wang et al.);
            'affinity' / 'gram' force one. Default: 'auto'.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'nonlocal_block'  # as mmcv's NonLocal2d
    #: names of the C->C 1x1 convs applied before the product (not W_z)
    transforms = ()
    #: the association that ``matmul_order='auto'`` means for this row
    auto_order = 'auto'

    def __init__(self,
                 in_channels,
                 norm_cfg=None,
                 matmul_order='auto',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_non_local_args(in_channels, matmul_order=matmul_order)
        self.in_channels = in_channels
        self.matmul_order = (self.auto_order
                             if matmul_order == 'auto' else matmul_order)
        for name in self.transforms:
            self.add_module(name, self._conv1x1())
        self.w_z = self._conv1x1()
        self.with_norm = norm_cfg is not None
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
        if self.with_norm:
            nn.init.zeros_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)
        else:
            nn.init.zeros_(self.w_z.weight)

    def init_weights(self):
        super().init_weights()
        # A parent's init_cfg (Kaiming on convs, Constant on BN) has run
        # before this: restore the identity start unless this block's own
        # Pretrained init_cfg has just loaded weights.
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            self._zero_init_last()

    @classmethod
    def macs(cls, in_channels, height, width, **kwargs):
        """MACs of one block by the paper's rules: ``n C^2 HW`` for the
        ``n`` 1x1 convs (transforms + W_z) and the product in the row's
        association (Eqn 4); BN, the division and the add count nothing."""
        positions = height * width
        affinity, gram = dot_product_macs(in_channels, in_channels,
                                          positions, positions)
        matmul = affinity if cls.auto_order == 'affinity' else min(
            affinity, gram)
        num_convs = len(cls.transforms) + 1  # + W_z
        return num_convs * in_channels * in_channels * positions + matmul

    def dot_product(self, query, key, value):
        """``q k^T v / HW`` of (N, C, H, W) maps, shape of ``query``."""
        n, c, h, w = query.shape
        y = dot_product_nonlocal(
            query.flatten(2), key.flatten(2), value.flatten(2),
            self.matmul_order)
        return y.view(n, c, h, w)

    def non_local(self, x):
        """The non-local operation ``y`` of the row, shape of ``x``."""
        raise NotImplementedError

    def forward(self, x):
        z = self.w_z(self.non_local(x))
        if self.with_norm:
            z = self.norm(z)
        return z + x

    def extra_repr(self):
        return f'in_channels={self.in_channels}'


@MODELS.register_module()
class LeviNonLocal(DotProductNonLocal):
    """Levi et al.: ``y = theta(x) phi(x)^T g(x) / HW`` with theta, phi, g
    1x1 convs C->C, associated whichever way is cheaper (Eqn 4)."""

    transforms = ('theta', 'phi', 'g')

    def non_local(self, x):
        return self.dot_product(self.theta(x), self.phi(x), self.g(x))


@MODELS.register_module()
class WangNonLocal(LeviNonLocal):
    """Wang et al. NL block: the transforms of :class:`LeviNonLocal` (no
    channel halving), with the HW x HW affinity ``theta phi^T`` computed
    explicitly first."""

    auto_order = 'affinity'


@MODELS.register_module()
class Eqn3NonLocal(DotProductNonLocal):
    """Eqn 3: ``y = theta(x) theta(x)^T g(x) / HW``, theta and g 1x1 convs
    C->C, the cheaper association."""

    transforms = ('theta', 'g')

    def non_local(self, x):
        query = self.theta(x)
        return self.dot_product(query, query, self.g(x))


@MODELS.register_module()
class Eqn5NonLocal(DotProductNonLocal):
    """Eqn 5: one shared transform, ``y = g(x) g(x)^T g(x) / HW``."""

    transforms = ('g', )

    def non_local(self, x):
        value = self.g(x)
        return self.dot_product(value, value, value)


@MODELS.register_module()
class Eqn7NonLocal(DotProductNonLocal):
    """Eqn 7: no transform, ``y = x x^T x / HW``."""

    def non_local(self, x):
        return self.dot_product(x, x, x)


@MODELS.register_module()
class Eqn9NonLocal(DotProductNonLocal):
    """Eqn 9: compact features, ``y = x_c x_sc^T x_s / HW``
    (:func:`non_local_aggregate`: the first ``int(r C)`` channels, every
    ``s``-th row/column), W_z still a 1x1 conv.

    Args:
        in_channels (int): Channels C of the input (and output).
        channel_ratio (float): Channel ratio r. Default: 0.25.
        spatial_stride (int): Spatial stride s. Default: 1.
        norm_cfg, matmul_order, init_cfg: As in
            :class:`DotProductNonLocal`.
    """

    def __init__(self,
                 in_channels,
                 channel_ratio=0.25,
                 spatial_stride=1,
                 norm_cfg=None,
                 matmul_order='auto',
                 init_cfg=None):
        super().__init__(in_channels, norm_cfg=norm_cfg,
                         matmul_order=matmul_order, init_cfg=init_cfg)
        check_non_local_args(in_channels, channel_ratio, spatial_stride,
                             matmul_order)
        self.channel_ratio = channel_ratio
        self.spatial_stride = spatial_stride

    @classmethod
    def macs(cls, in_channels, height, width, channel_ratio=0.25,
             spatial_stride=1, **kwargs):
        """The cheaper order of Eqn 9 (:func:`matmul_macs`) + W_z's
        ``C^2 HW``."""
        return min(
            matmul_macs(in_channels, height, width, channel_ratio,
                        spatial_stride)) + in_channels**2 * height * width

    def non_local(self, x):
        return non_local_aggregate(x, self.channel_ratio, self.spatial_stride,
                                   self.matmul_order)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, channel_ratio='
                f'{self.channel_ratio}, spatial_stride={self.spatial_stride}')
