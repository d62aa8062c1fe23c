"""Deployment forms keep outputs: MMCV's fuse_conv_bn, switch_to_deploy and
its converted weights, LightNL's channels-last output."""
import copy

import pytest
import torch
from mmcv.cnn import fuse_conv_bn
from torch.nn.modules.batchnorm import _BatchNorm

import autonl_mmseg  # noqa: F401  (registers modules)
from autonl_mmseg.models.backbones import AutoNLNet
from autonl_mmseg.models.plugins import (LightNL, fused_light_nl,
                                         non_local_aggregate)
from conftest import trained_norms

SHIPPED = ('mobilenet-v2', 'mobilenet-v2-lightnl', 'autonl-s', 'autonl-l')


def relative_error(out, ref):
    return ((out - ref).norm() / ref.norm()).item()


@pytest.fixture(scope='module')
def networks():
    torch.manual_seed(0)
    return {name: trained_norms(AutoNLNet(genotype=name)) for name in SHIPPED}


@pytest.mark.parametrize('name', SHIPPED)
def test_fuse_conv_bn_keeps_outputs(networks, name):
    net = networks[name]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)[0]
        fused = fuse_conv_bn(copy.deepcopy(net))
        out = fused(x)[0]
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    assert relative_error(out, ref) <= 1e-4


@pytest.mark.parametrize('name', SHIPPED)
def test_switch_to_deploy_and_converted_weights(networks, name):
    net = copy.deepcopy(networks[name])
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)[0]
        net.switch_to_deploy()
        assert net.deploy
        out = net(x)[0]
        # weights of the deploy form load strictly into deploy=True
        deployed = AutoNLNet(genotype=name, deploy=True).eval()
        deployed.load_state_dict(net.state_dict(), strict=True)
        out_loaded = deployed(x)[0]
    assert relative_error(out, ref) <= 1e-4
    torch.testing.assert_close(out_loaded, out)
    assert not any(isinstance(m, _BatchNorm) for m in deployed.modules())
    if 'lightnl' in name or 'autonl' in name:
        assert any(isinstance(m, LightNL) and m.deploy
                   for m in deployed.modules())


def test_deploy_form_loads_no_undeployed_weights():
    """A normal checkpoint must not load silently into the deploy form
    (it would run with zero biases)."""
    normal = AutoNLNet(genotype='mobilenet-v2-lightnl').state_dict()
    deployed = AutoNLNet(genotype='mobilenet-v2-lightnl', deploy=True)
    with pytest.raises(RuntimeError, match='bias'):
        deployed.load_state_dict(normal, strict=True)


def test_light_nl_switch_to_deploy_and_identity_start():
    block = trained_norms(LightNL(16, channel_ratio=0.25, spatial_stride=2))
    x = torch.randn(2, 16, 9, 7)
    with torch.no_grad():
        ref = block(x)
        block.switch_to_deploy()
        out = block(x)
    assert block.deploy and isinstance(block.norm, torch.nn.Identity)
    assert set(block.state_dict()) == {'depthwise_conv.weight',
                                       'depthwise_conv.bias'}
    assert relative_error(out - x, ref - x) <= 1e-5
    # a block built in the deploy form starts as the identity too
    fresh = LightNL(16, norm_cfg=None)
    fresh.init_weights()
    torch.testing.assert_close(fresh(x), x)


@pytest.mark.parametrize('order', ['affinity', 'gram'])
@pytest.mark.parametrize('spatial_stride', [1, 2])
def test_channels_last_aggregate(order, spatial_stride):
    x = torch.randn(2, 12, 7, 9, dtype=torch.float64)
    ref = non_local_aggregate(x, 0.25, spatial_stride, order)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    y = non_local_aggregate(x_cl, 0.25, spatial_stride, order)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert ref.is_contiguous()
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)


def test_channels_last_block_backward():
    """Training on channels-last inputs gives the NCHW gradients."""
    block = trained_norms(LightNL(8, channel_ratio=0.5)).train().double()
    x = torch.randn(2, 8, 6, 5, dtype=torch.float64, requires_grad=True)
    x_cl = x.detach().contiguous(
        memory_format=torch.channels_last).requires_grad_()
    grads = []
    for inp in (x, x_cl):
        block.zero_grad()
        block(inp).square().sum().backward()
        grads.append((inp.grad, block.depthwise_conv.weight.grad.clone()))
    torch.testing.assert_close(grads[1][0], grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])


# LightNL's fused CPU kernel (light_nl_cpu.cpp) against the PyTorch path:
# both orders, strides 1-2, channels a multiple of 16, of 8 or neither
# (vector widths 16, 8, 1; 4-row tiles and their 1-3 row remainders), odd
# sizes (1 x 1 and 1-pixel-wide maps take only some taps); one thread,
# two threads sharing an image's rows, two threads taking an image each.
@pytest.mark.parametrize('channels,size,stride,order', [
    (16, (9, 7), 2, 'gram'), (16, (9, 7), 1, 'affinity'),
    (12, (5, 8), 2, 'affinity'), (12, (6, 6), 1, 'gram'),
    (40, (1, 1), 1, 'gram'), (24, (1, 5), 2, 'gram'),
    (320, (7, 7), 2, 'auto'), (64, (14, 14), 1, 'auto'),
    (8, (3, 1), 1, 'affinity')])
@pytest.mark.parametrize('threads,batch', [(1, 2), (2, 1), (2, 3)])
def test_fused_light_nl_kernel_matches_pytorch(channels, size, stride, order,
                                               threads, batch):
    from autonl_mmseg.models.plugins.light_nl_cpu import fused_kernel
    assert fused_kernel() is not None, 'the fused CPU kernel did not build'
    torch.manual_seed(0)
    block = trained_norms(LightNL(channels, 0.25, stride, matmul_order=order))
    block.eval().switch_to_deploy()
    x = torch.randn(batch, channels, *size).contiguous(
        memory_format=torch.channels_last)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            assert block._fused_cpu_args(x) is not None
            with fused_light_nl(False):
                ref = block(x)
            calls = []
            module = fused_kernel()
            with _spy(module, calls):
                out = block(x)
    finally:
        torch.set_num_threads(previous_threads)
    assert calls == [1], 'the block did not take the fused kernel'
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert relative_error(out - x, ref - x) <= 1e-5


@pytest.mark.parametrize('channels,size,stride,order', [
    (400, (3, 4), 1, 'gram'), (16, (48, 48), 1, 'affinity')])
def test_fused_light_nl_kernel_beyond_its_size_limit(channels, size, stride,
                                                     order):
    """Blocks whose Gram matrix (400 x 100) or x_s (2304 x 16) exceeds
    ``FUSED_MAX_WORKING_SET`` take the PyTorch path; the kernel itself is
    still right there (called directly)."""
    from autonl_mmseg.models.plugins.light_nl import FUSED_MAX_WORKING_SET
    from autonl_mmseg.models.plugins.light_nl_cpu import fused_kernel
    torch.manual_seed(0)
    block = trained_norms(LightNL(channels, 0.25, stride, matmul_order=order))
    block.eval().switch_to_deploy()
    x = torch.randn(1, channels, *size).contiguous(
        memory_format=torch.channels_last)
    k = channels // 4
    working_set = (k * channels if order == 'gram' else
                   size[0] * size[1] * channels)
    assert working_set > FUSED_MAX_WORKING_SET
    with torch.no_grad():
        assert block._fused_cpu_args(x) is None
        ref = block(x)
        out = fused_kernel().light_nl_forward(
            x, block.depthwise_conv.weight, block.depthwise_conv.bias, k,
            stride, order == 'affinity')
    assert relative_error(out - x, ref - x) <= 1e-5


class _spy:
    """Count calls of ``module.light_nl_forward`` (a pybind11 module's
    attributes can be replaced)."""

    def __init__(self, module, calls):
        self.module, self.calls = module, calls

    def __enter__(self):
        self.original = self.module.light_nl_forward

        def counted(*args):
            self.calls.append(1)
            return self.original(*args)

        self.module.light_nl_forward = counted

    def __exit__(self, *exc):
        self.module.light_nl_forward = self.original


def test_fused_light_nl_kernel_only_where_it_applies():
    """Training, autograd, NCHW inputs, other dtypes and blocks with a norm
    take the PyTorch path (the kernel has no backward)."""
    block = trained_norms(LightNL(16, 0.25, 2))
    x = torch.randn(1, 16, 8, 8)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert block._fused_cpu_args(x_cl) is None  # BN not folded
        block.eval().switch_to_deploy()
        assert block._fused_cpu_args(x_cl)[2:] == (4, 2, False)
        assert block._fused_cpu_args(x) is None  # NCHW
        assert block._fused_cpu_args(x_cl.double()) is None
    assert block._fused_cpu_args(x_cl) is None  # autograd on the weights
    out = block(x_cl.requires_grad_())
    out.sum().backward()
    assert x_cl.grad is not None and x_cl.grad.abs().sum() > 0
