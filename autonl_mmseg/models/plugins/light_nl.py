"""The Lightweight Non-Local block (LightNL, Eqn 9 + Eqn 8 of AutoNL)."""
import math

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer, fuse_conv_bn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .light_nl_cpu import fused_kernel_enabled, fused_light_nl_forward


def compact_channels(in_channels, channel_ratio):
    """Number of channels ``k`` that LightNL keeps: ``int(r * C)``, at least 1."""
    return max(1, int(channel_ratio * in_channels))


def matmul_macs(channels, height, width, channel_ratio, spatial_stride):
    """MACs of both associations of ``y = x_c x_sc^T x_s`` (Eqn 9).

    Returns:
        tuple[int, int]: (affinity-order MACs, Gram-order MACs).
    """
    k = compact_channels(channels, channel_ratio)
    hw = height * width
    hw_s = math.ceil(height / spatial_stride) * math.ceil(width / spatial_stride)
    affinity = hw * hw_s * (k + channels)  # (x_sc^T x_c), then x_s (...)
    gram = (hw + hw_s) * channels * k  # (x_s x_sc^T), then (...) x_c
    return affinity, gram


def light_nl_macs(channels, height, width, channel_ratio, spatial_stride):
    """MACs of a LightNL block as the paper counts them (no BN, no add)."""
    return (min(matmul_macs(channels, height, width, channel_ratio,
                            spatial_stride)) + 9 * channels * height * width)


def resolve_order(channels, height, width, channel_ratio, spatial_stride,
                  order='auto'):
    """'affinity' or 'gram': ``order``, or for 'auto' the one with fewer
    MACs on this input size (:func:`matmul_macs`)."""
    if order == 'auto':
        affinity, gram = matmul_macs(channels, height, width, channel_ratio,
                                     spatial_stride)
        order = 'affinity' if affinity < gram else 'gram'
    return order


#: the kernel's working set (the Gram matrix, or x_s in the affinity
#: order) stays in L2 up to this many floats; beyond, the PyTorch path's
#: blocked GEMMs are as fast or faster (measured: docs/benchmark.md)
FUSED_MAX_WORKING_SET = 32768


def fused_plan(channels, height, width, channel_ratio, spatial_stride,
               matmul_order='auto'):
    """(k, stride, affinity order?) of :mod:`.light_nl_cpu`'s kernel for a
    ``channels x height x width`` input, or () where its working set
    exceeds :data:`FUSED_MAX_WORKING_SET` floats."""
    order = resolve_order(channels, height, width, channel_ratio,
                          spatial_stride, matmul_order)
    k = compact_channels(channels, channel_ratio)
    if order == 'affinity':
        working_set = (math.ceil(height / spatial_stride) *
                       math.ceil(width / spatial_stride) * channels)
    else:
        working_set = k * channels
    if working_set > FUSED_MAX_WORKING_SET:
        return ()
    return k, spatial_stride, order == 'affinity'


def non_local_aggregate(x, channel_ratio, spatial_stride, order='auto'):
    """Eqn 9: ``y = x_c x_sc^T x_s / (H W)`` with compact features.

    ``x_c`` keeps the first ``k = int(r C)`` channels, ``x_s`` takes every
    ``s``-th row and column (no pooling) and ``x_sc`` both. The product is
    normalised by the FULL resolution ``H W`` and has no softmax, so it is
    associative and the cheaper order can be picked from the actual shapes.

    Args:
        x (Tensor): (N, C, H, W).
        channel_ratio (float): r in (0, 1].
        spatial_stride (int): s >= 1.
        order (str): 'auto' (cheaper one), 'affinity' or 'gram'.

    Returns:
        Tensor: y of shape (N, C, H, W), in ``x``'s memory format: for a
        channels-last ``x`` the last product is computed transposed, so that
        y comes out channels-last (no layout change before the depthwise
        conv, which runs channels-last on cuDNN and oneDNN).
    """
    n, c, h, w = x.shape
    k = compact_channels(c, channel_ratio)
    x_full = x.flatten(2)  # (N, C, HW)
    x_c = x_full[:, :k]  # (N, k, HW), a view
    # (N, C, HW'); the strided subsampling is the only copy
    x_s = (x[:, :, ::spatial_stride, ::spatial_stride].flatten(2)
           if spatial_stride > 1 else x_full)
    x_sc = x_s[:, :k]  # (N, k, HW'), a view
    order = resolve_order(c, h, w, channel_ratio, spatial_stride, order)
    # 1 / (H W) scales the intermediate product (in the order 'auto' picks,
    # never larger than y), so that y is written only once.
    if order == 'affinity':
        # (HW', k) x (k, HW) -> (N, HW', HW); then (C, HW') x (HW', HW)
        affinity = torch.bmm(x_sc.transpose(1, 2), x_c) / (h * w)
        left, right = x_s, affinity
    elif order == 'gram':
        # (C, HW') x (HW', k) -> (N, C, k); then (C, k) x (k, HW)
        gram = torch.bmm(x_s, x_sc.transpose(1, 2)) / (h * w)
        left, right = gram, x_c
    else:
        raise ValueError(f"order must be 'auto', 'affinity' or 'gram', "
                         f'got {order!r}')
    if c > 1 and x.is_contiguous(
            memory_format=torch.channels_last) and not x.is_contiguous():
        # y^T = right^T left^T: (N, HW, C) rows, i.e. y channels-last
        y = torch.bmm(right.transpose(1, 2), left.transpose(1, 2))
        return y.transpose(1, 2).view(n, c, h, w)
    return torch.bmm(left, right).view(n, c, h, w)


def check_non_local_args(in_channels,
                         channel_ratio=None,
                         spatial_stride=None,
                         matmul_order='auto'):
    """Raise ValueError for arguments no non-local block can take (None:
    the block has no such argument)."""
    if not isinstance(in_channels, int) or in_channels <= 0:
        raise ValueError(
            f'in_channels must be a positive int, got {in_channels!r}')
    if channel_ratio is not None and not 0 < channel_ratio <= 1:
        raise ValueError(
            f'channel_ratio must be in (0, 1], got {channel_ratio!r}')
    if spatial_stride is not None and (not isinstance(spatial_stride, int)
                                       or spatial_stride < 1):
        raise ValueError(
            f'spatial_stride must be an int >= 1, got {spatial_stride!r}')
    if matmul_order not in ('auto', 'affinity', 'gram'):
        raise ValueError(f'matmul_order must be auto/affinity/gram, '
                         f'got {matmul_order!r}')


@MODELS.register_module()
class LightNL(BaseModule):
    """Lightweight Non-Local block (AutoNL, CVPR 2020, Eqn 9 + Eqn 8).

    ``z = BN(DWConv3x3(x_c x_sc^T x_s / HW)) + x``. The BN's gamma starts at
    zero, so the block is the identity at initialisation and can be inserted
    into a pretrained network. Also usable as an MMCV plugin
    (``mmcv.cnn.build_plugin_layer``), e.g. in an MMSeg ResNet::

        plugins=[dict(cfg=dict(type='LightNL', channel_ratio=0.25),
                      stages=(False, True, True, True),
                      position='after_conv3')]

    Args:
        in_channels (int): Channels C of the input (and output).
        channel_ratio (float): Fraction r of channels used for the affinity
            (the first ``int(r * C)`` channels). Default: 0.25.
        spatial_stride (int): Stride s of the spatial subsampling of the
            context features. Default: 1.
        norm_cfg (dict, optional): Norm after the depthwise conv. None
            builds the deploy form (:meth:`switch_to_deploy`): no norm, the
            depthwise conv has a bias. Default: dict(type='BN').
        matmul_order (str): 'auto' picks the cheaper association from the
            actual input shape; 'affinity' / 'gram' force one. Default: 'auto'.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    _abbr_ = 'light_nl'

    def __init__(self,
                 in_channels,
                 channel_ratio=0.25,
                 spatial_stride=1,
                 norm_cfg=dict(type='BN'),
                 matmul_order='auto',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_non_local_args(in_channels, channel_ratio, spatial_stride,
                             matmul_order)
        self.in_channels = in_channels
        self.channel_ratio = channel_ratio
        self.spatial_stride = spatial_stride
        self.matmul_order = matmul_order
        self._fused_args_cache = {}  # input (C, H, W) -> fused_plan(...)
        self.depthwise_conv = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size=3,
            padding=1,
            groups=in_channels,
            bias=norm_cfg is None)
        if norm_cfg is None:
            self.norm_name = None
        else:
            self.norm_name, norm = build_norm_layer(norm_cfg, in_channels)
            self.add_module(self.norm_name, norm)
        self._zero_init_norm()

    @property
    def norm(self):
        return getattr(self, self.norm_name) if self.norm_name else None

    @property
    def deploy(self):
        """True in the deploy form: no norm module (it was folded into the
        depthwise conv, or never built)."""
        norm = self._modules[self.norm_name] if self.norm_name else None
        return norm is None or isinstance(norm, nn.Identity)

    def _zero_init_norm(self):
        # the identity start: the last affine map of the branch is zero
        last = self.depthwise_conv if self.deploy else self.norm
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def switch_to_deploy(self):
        """Fold the eval-mode norm into the depthwise conv (as MMCV's
        ``fuse_conv_bn``, which this calls): one conv with a bias, the norm
        replaced by ``nn.Identity``. The state dict then holds
        ``depthwise_conv.weight/bias`` only, which a block built with
        ``norm_cfg=None`` loads.

        The 1 / (H W) of Eqn 9 stays on the small intermediate product
        (:func:`non_local_aggregate`): H and W are those of each input (a
        segmentor sees many sizes), so no fixed weight can hold it, and
        where it is it costs one pass over a C x k (or HW' x HW) matrix.
        """
        if not self.deploy:
            fuse_conv_bn(self)

    def init_weights(self):
        super().init_weights()
        # A parent's init_cfg (e.g. a backbone's Constant(1) on every BN) has
        # run before this: restore the identity start. Only weights that this
        # block's own Pretrained init_cfg has just loaded are kept.
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            self._zero_init_norm()

    @classmethod
    def macs(cls, in_channels, height, width, channel_ratio=0.25,
             spatial_stride=1, **kwargs):
        """MACs of one block on a ``height x width`` input, by the paper's
        rules (:func:`light_nl_macs`); ``kwargs`` (norm, matmul order) do not
        change them."""
        return light_nl_macs(in_channels, height, width, channel_ratio,
                             spatial_stride)

    def aggregate(self, x):
        """The non-local operation ``y`` of Eqn 9, shape of ``x``."""
        return non_local_aggregate(x, self.channel_ratio, self.spatial_stride,
                                   self.matmul_order)

    def output_transform(self, y):
        """Eqn 8's W_z: depthwise 3x3 conv, then the (zero-init) norm."""
        y = self.depthwise_conv(y)
        return y if self.norm is None else self.norm(y)

    def _fused_cpu_args(self, x):
        """The arguments of :mod:`.light_nl_cpu`'s kernel after ``x``
        (weight, bias, k, stride, affinity order?) when it applies (a
        deploy-form block, inference, a float32 channels-last CPU input
        within :func:`fused_plan`'s size limit, no tracing: ONNX export
        traces), else None.

        It runs on every call, so it reads the conv's tensors from
        ``_modules`` / ``_parameters`` (``nn.Module.__getattr__`` costs
        ~1 us a name here, a sizeable part of a 7x7 block); a
        reparametrised or pruned conv has no plain ``weight`` parameter and
        takes the PyTorch path.
        """
        if not fused_kernel_enabled():
            return None
        params = self._modules['depthwise_conv']._parameters
        weight, bias = params.get('weight'), params.get('bias')
        if (weight is None or bias is None or not x.is_cpu
                or x.dtype != torch.float32 or weight.dtype != torch.float32
                or x.dim() != 4
                or not x.is_contiguous(memory_format=torch.channels_last)
                or (torch.is_grad_enabled() and
                    (x.requires_grad or weight.requires_grad
                     or bias.requires_grad))
                or not self.deploy or torch.jit.is_tracing()
                or torch.compiler.is_compiling()):
            return None
        shape = x.shape[1:]  # the block's own settings are fixed
        args = self._fused_args_cache.get(shape)
        if args is None:
            args = self._fused_args_cache[shape] = fused_plan(
                *shape, self.channel_ratio, self.spatial_stride,
                self.matmul_order)
        if not args:  # too large for the kernel's loops
            return None
        return (weight, bias) + args

    def forward(self, x):
        if not torch.jit.is_scripting():
            args = self._fused_cpu_args(x)
            if args is not None:
                z = fused_light_nl_forward(x, *args)
                if z is not None:
                    return z
        # The norm's output is a fresh tensor that its backward does not
        # need: adding the residual in place saves one feature-map buffer.
        return self.output_transform(self.aggregate(x)).add_(x)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, channel_ratio='
                f'{self.channel_ratio}, spatial_stride={self.spatial_stride}')
