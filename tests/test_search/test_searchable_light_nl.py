"""Searchable LightNL: Eqn 14 reuse vs per-candidate, Gram-identity
distances vs materialised affinities, EMA, decoding rules."""
import math

import pytest
import torch

from autonl_mmseg.models.plugins.light_nl import (compact_channels,
                                                  non_local_aggregate)
from autonl_mmseg.search import SearchableLightNL

RATIOS = (0.125, 0.25, 0.5)


def make_pair(channels=16, strides=(2, 1)):
    torch.manual_seed(0)
    reuse = SearchableLightNL(channels, RATIOS, strides).double()
    naive = SearchableLightNL(channels, RATIOS, strides, reuse=False).double()
    torch.nn.init.normal_(reuse.norm.weight)
    torch.nn.init.normal_(reuse.norm.bias)
    naive.load_state_dict(reuse.state_dict())
    return reuse, naive


def log_threshold(t):
    """The gates compare log scores: the log threshold of distance ``t``
    (0: below every distance)."""
    return math.log(t) if t > 0 else -100.


def set_state(module, channel_ema, spatial_ema, channel_t, spatial_t):
    with torch.no_grad():
        module.channel_distance_ema.copy_(torch.tensor(channel_ema))
        module.spatial_distance_ema.copy_(torch.tensor(spatial_ema))
        module.num_ema_updates.fill_(1)
        module.dims['channel_ratio'].gate.threshold.fill_(
            log_threshold(channel_t))
        module.dims['spatial_stride'].gate.threshold.fill_(
            log_threshold(spatial_t))


@pytest.mark.parametrize('channel_t,spatial_t', [(0.0, 0.0), (0.25, 0.0),
                                                 (0.5, 0.5), (0.05, 0.5)])
def test_reuse_equals_naive(channel_t, spatial_t):
    reuse, naive = make_pair()
    x = torch.randn(2, 16, 7, 9, dtype=torch.float64)
    for module in (reuse, naive):
        set_state(module, [0.4, 0.2, 0.0], [0.3, 0.0], channel_t, spatial_t)
        module.eval()
    xs = [x.clone().requires_grad_() for _ in range(2)]
    outs = [m(xi) for m, xi in zip((reuse, naive), xs)]
    torch.testing.assert_close(outs[0], outs[1])
    grad = torch.randn_like(outs[0])
    for out in outs:
        out.backward(grad)
    torch.testing.assert_close(xs[0].grad, xs[1].grad)
    for name in ('channel_ratio', 'spatial_stride', 'insert'):
        g = [m.dims[name].gate.threshold.grad for m in (reuse, naive)]
        torch.testing.assert_close(g[0], g[1])
    # and the batch distances of both computations agree
    for a, b in zip(reuse.batch_distances(x), naive.batch_distances(x)):
        torch.testing.assert_close(a, b)


def test_chosen_candidate_is_plain_light_nl():
    """The forward value is exactly the LightNL of the chosen candidate."""
    reuse, _ = make_pair()
    reuse.eval()
    set_state(reuse, [0.4, 0.2, 0.0], [0.3, 0.0], 0.25, 0.5)  # r 0.25, s 2
    x = torch.randn(2, 16, 7, 9, dtype=torch.float64)
    y = reuse.aggregate(x)
    torch.testing.assert_close(y, non_local_aggregate(x, 0.25, 2))


def materialised_distances(x, ratios, strides):
    """Eqn 12 with HW x HW affinities formed explicitly (our
    normalisation), and output distances for the strides."""
    n, c, h, w = x.shape
    ks = [compact_channels(c, r) for r in ratios]
    flat = x.flatten(2)
    affinity = [
        torch.einsum('nki,nkj->nij', flat[:, :k], flat[:, :k]) / k
        for k in ks
    ]
    ref = affinity[-1]
    channel = torch.stack([((a - ref).pow(2).sum((1, 2)) /
                            ref.pow(2).sum((1, 2))).mean()
                           for a in affinity])
    y_ref = non_local_aggregate(x, ratios[-1], 1)
    spatial = []
    for s in strides:
        n_pos = len(range(0, h, s)) * len(range(0, w, s))
        y_s = non_local_aggregate(x, ratios[-1], s) * (h * w / n_pos)
        spatial.append(((y_s - y_ref).pow(2).sum((1, 2, 3)) /
                        y_ref.pow(2).sum((1, 2, 3))).mean())
    return channel, torch.stack(spatial)


@pytest.mark.parametrize('shape', [(2, 16, 6, 6), (3, 24, 5, 7)])
def test_gram_identity_equals_materialised(shape):
    module = SearchableLightNL(shape[1], RATIOS, (3, 2, 1))
    x = torch.randn(*shape, dtype=torch.float64)
    channel, spatial = module.double().batch_distances(x)
    ref_channel, ref_spatial = materialised_distances(
        x, module.channel_ratios, module.spatial_strides)
    torch.testing.assert_close(channel, ref_channel)
    torch.testing.assert_close(spatial, ref_spatial)
    assert channel[-1].item() == pytest.approx(0, abs=1e-9)
    assert spatial[-1].item() == pytest.approx(0, abs=1e-9)


def test_ema_update():
    module = SearchableLightNL(16, RATIOS, (2, 1), ema_momentum=0.25)
    assert torch.isinf(module.channel_distance_ema[:-1]).all()
    assert module.decode() == dict(type='LightNL', channel_ratio=0.5,
                                   spatial_stride=1)
    module.update_ema(torch.tensor([0.4, 0.2, 0.]), torch.tensor([0.8, 0.]))
    assert module.channel_distance_ema.tolist() == pytest.approx(
        [0.4, 0.2, 0.])  # first batch initialises
    module.update_ema(torch.tensor([0.0, 0.6, 0.]), torch.tensor([0.4, 0.]))
    assert module.channel_distance_ema.tolist() == pytest.approx(
        [0.3, 0.3, 0.])
    assert module.spatial_distance_ema.tolist() == pytest.approx([0.7, 0.])
    assert module.num_ema_updates.item() == 2
    # a training forward updates the EMAs, an eval forward does not
    x = torch.randn(2, 16, 6, 6)
    module.train()(x)
    assert module.num_ema_updates.item() == 3
    before = module.channel_distance_ema.clone()
    module.eval()(x)
    assert torch.equal(before, module.channel_distance_ema)


def test_decode_smallest_ratio_under_threshold():
    module = SearchableLightNL(16, RATIOS, (2, 1))
    set_state(module, [0.4, 0.2, 0.0], [0.3, 0.0], 0.25, 0.1)
    assert module.decode() == dict(type='LightNL', channel_ratio=0.25,
                                   spatial_stride=1)
    set_state(module, [0.4, 0.2, 0.0], [0.3, 0.0], 0.5, 0.4)
    assert module.decode() == dict(type='LightNL', channel_ratio=0.125,
                                   spatial_stride=2)
    set_state(module, [0.4, 0.2, 0.0], [0.3, 0.0], 0.1, 0.1)
    assert module.decode() == dict(type='LightNL', channel_ratio=0.5,
                                   spatial_stride=1)


def test_no_light_nl_when_norm_under_threshold():
    module = SearchableLightNL(16, RATIOS, (2, 1))
    score = module.depthwise_conv.weight.pow(2).mean().item()  # Eqn 10
    gate = module.dims['insert'].gate
    with torch.no_grad():
        gate.threshold.fill_(math.log(score))  # ||W_d||^2 <= e^t
    assert module.decode() is None
    torch.nn.init.normal_(module.norm.weight)
    torch.nn.init.normal_(module.norm.bias)
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(module.train()(x), x)  # z = x exactly
    with torch.no_grad():
        gate.threshold.fill_(math.log(score * 0.999))
    assert module.decode() is not None
