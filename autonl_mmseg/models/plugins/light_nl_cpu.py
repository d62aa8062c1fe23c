"""The fused CPU inference kernel of a deploy-form LightNL block.

``light_nl_cpu.cpp`` computes ``x + b + DWConv3x3(x_c x_sc^T x_s / HW)`` in
one call: the Gram matrix (or, in the affinity order, x_sc transposed), then
row by row the rows of y and the depthwise conv with its bias and the
residual, in register-tiled vector loops. :class:`LightNL` uses it for a
deploy-form block on a float32 channels-last CPU input with autograd off,
where the Gram matrix (or x_s) fits in L2 (:func:`.light_nl.fused_plan`);
everything else (training, CUDA, NCHW inputs, larger blocks, ONNX export,
``torch.compile``) takes the PyTorch path, which is the reference the tests
hold the kernel to.

The kernel is compiled on first use with ``torch.utils.cpp_extension`` (a
C++ compiler and ninja, as MMCV's build needs; ~25 s here, then cached in
PyTorch's extension directory) for the CPU's vector width (AVX-512, AVX2 or
baseline, a separate build each). Where it cannot be built the blocks warn
once and keep the PyTorch path. ``AUTONL_FUSED_LIGHTNL=0`` or
:func:`set_fused_light_nl` (False) turn it off.
"""
import os
import os.path as osp
from contextlib import contextmanager

import torch

#: compiler flags per ``torch.backends.cpu.get_cpu_capability()``
_ISA_FLAGS = {
    'AVX512': ['-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq', '-mfma'],
    'AVX2': ['-mavx2', '-mfma'],
}
_state = dict(enabled=os.environ.get('AUTONL_FUSED_LIGHTNL', '1') != '0',
              module=None, failed=False)


def set_fused_light_nl(enabled):
    """Turn the fused CPU kernel on or off for every LightNL block; returns
    the previous setting."""
    previous = _state['enabled']
    _state['enabled'] = bool(enabled)
    return previous


@contextmanager
def fused_light_nl(enabled):
    """``with fused_light_nl(False):`` runs LightNL's PyTorch path."""
    previous = set_fused_light_nl(enabled)
    try:
        yield
    finally:
        set_fused_light_nl(previous)


def fused_kernel_enabled():
    """False when the kernel is turned off or could not be built (cheap: a
    block asks on every call)."""
    return _state['enabled'] and not _state['failed']


def fused_kernel():
    """The compiled kernel module, or None (turned off, or not buildable)."""
    if not fused_kernel_enabled():
        return None
    if _state['module'] is None:
        from mmengine.logging import print_log
        capability = torch.backends.cpu.get_cpu_capability()
        flags = _ISA_FLAGS.get(capability, [])
        name = f'autonl_light_nl_cpu_{capability.lower() if flags else "base"}'
        try:
            from torch.utils.cpp_extension import load
            print_log(f'LightNL: loading the fused CPU kernel {name} (built '
                      'once, then cached)', logger='current')
            _state['module'] = load(
                name=name,
                sources=[osp.join(osp.dirname(__file__), 'light_nl_cpu.cpp')],
                extra_cflags=['-O3'] + flags,
                verbose=False)
        except Exception as error:  # noqa: B902  (no compiler, no ninja...)
            _state['failed'] = True
            print_log(f'LightNL: the fused CPU kernel could not be built '
                      f'({type(error).__name__}: {str(error)[-300:]}); using '
                      'the PyTorch path', logger='current', level=30)
            return None
    return _state['module']


def fused_light_nl_forward(x, weight, bias, k, stride, affinity):
    """``x + bias + DWConv3x3(y)`` by the fused kernel, or None when it is
    unavailable (the caller then takes the PyTorch path)."""
    module = _state['module'] if _state['enabled'] else None
    if module is None:
        module = fused_kernel()
        if module is None:
            return None
    return module.light_nl_forward(x, weight, bias, k, stride, affinity)
