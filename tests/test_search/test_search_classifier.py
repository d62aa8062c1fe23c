"""The search wrapper: loss dict, warm-up from the runner's MessageHub,
the cost term's effect, parameter groups and the state round trip."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS
from mmpretrain.structures import DataSample

from autonl_mmseg.models.utils.complexity import genotype_macs

from .helpers import thresholds, tiny_space


def build_classifier(**kwargs):
    cfg = dict(
        type='AutoNLSearchClassifier',
        backbone=dict(type='AutoNLSuperNet', search_space=tiny_space()),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=64,
                  loss=dict(type='CrossEntropyLoss')),
        cost_input_size=32)
    cfg.update(kwargs)
    return MODELS.build(cfg)  # (default torch init: quiet and enough)


def batch(seed=0, n=8, size=32):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=g)
    labels = torch.randint(0, 4, (n, ), generator=g)
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    return inputs, samples


def set_iteration(iteration, max_iters):
    hub = MessageHub.get_instance('search_test_hub')
    hub.update_info('iter', iteration)
    hub.update_info('max_iters', max_iters)
    return hub


def test_loss_dict_and_parse_losses():
    set_iteration(10, 20)
    model = build_classifier(cost_weight=0.5, cost_warmup=0.25)
    losses = model.loss(*batch())
    assert set(losses) == {'loss_ce', 'loss_cost', 'macs', 'cost_on'}
    macs = genotype_macs(model.backbone.decode(), (32, 32), 4)['total']
    assert losses['macs'].item() == pytest.approx(macs / 1e6)
    assert losses['cost_on'].item() == 1
    assert losses['loss_cost'].item() == pytest.approx(
        0.5 * torch.log(torch.tensor(macs, dtype=torch.float64)).item(),
        rel=1e-6)
    total, log_vars = model.parse_losses(losses)
    assert total.item() == pytest.approx(
        (losses['loss_ce'] + losses['loss_cost']).item())
    assert log_vars['loss'].item() == pytest.approx(total.item())
    assert not losses['macs'].requires_grad


@pytest.mark.parametrize('warmup,iteration,active', [(0.5, 9, False),
                                                     (0.5, 10, True),
                                                     (4, 3, False),
                                                     (4, 4, True)])
def test_warmup_from_message_hub(warmup, iteration, active):
    set_iteration(iteration, 20)
    model = build_classifier(cost_weight=1.0, cost_warmup=warmup)
    assert model.cost_active() == active
    losses = model.loss(*batch())
    assert losses['cost_on'].item() == float(active)
    if not active:
        assert losses['loss_cost'].item() == 0
        model.parse_losses(losses)[0].backward()
        # thresholds frozen in the warm-up: zero gradients, still in graph
        for name, p in model.named_parameters():
            if name.endswith('threshold'):
                assert p.grad is not None and p.grad.item() == 0, name


def test_abs_log_target():
    set_iteration(5, 10)
    model = build_classifier(cost_weight=1.0, target_macs=1e6,
                             cost_form='abs_log')
    macs = model.expected_macs()
    assert model.cost(macs).item() == pytest.approx(
        abs(torch.log(macs / 1e6).item()))


def test_threshold_parameter_group():
    model = build_classifier()
    wrapper = build_optim_wrapper(
        model,
        dict(optimizer=dict(type='RMSprop', lr=0.01, weight_decay=1e-4),
             paramwise_cfg=dict(custom_keys={
                 'threshold': dict(lr_mult=0.5, decay_mult=0.)
             })))
    groups = wrapper.optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    for group in groups:
        for p in group['params']:
            if names[id(p)].endswith('threshold'):
                assert group['lr'] == 0.005 and group['weight_decay'] == 0


def search_macs(cost_weight, steps=25):
    """A short direct search on a synthetic batch; decoded MACs."""
    set_iteration(100, 100)
    torch.manual_seed(0)
    model = build_classifier(cost_weight=cost_weight)
    optimizer = torch.optim.RMSprop(
        [dict(params=[p for n, p in model.named_parameters()
                      if not n.endswith('threshold')]),
         dict(params=[p for n, p in model.named_parameters()
                      if n.endswith('threshold')], lr=0.02)],
        lr=0.01, alpha=0.9, momentum=0.9, eps=1e-3)
    inputs, samples = batch()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model.parse_losses(model.loss(inputs, samples))[0].backward()
        optimizer.step()
    return genotype_macs(model.backbone.decode(), (32, 32), 4)['total']


def test_large_lambda_decodes_fewer_macs():
    assert search_macs(2.0) < search_macs(0.0)


def test_state_round_trip(tmp_path):
    """Thresholds, EMA buffers and weights survive a state-dict round trip
    (what a checkpoint holds), and decode the same genotype."""
    set_iteration(3, 10)
    model = build_classifier(cost_weight=1.0)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for seed in range(3):
        optimizer.zero_grad()
        model.parse_losses(model.loss(*batch(seed)))[0].backward()
        optimizer.step()
    torch.save(model.state_dict(), tmp_path / 'state.pth')
    restored = build_classifier(cost_weight=1.0)
    restored.load_state_dict(torch.load(tmp_path / 'state.pth'))
    state, state2 = model.state_dict(), restored.state_dict()
    assert set(state) == set(state2)
    ema_keys = [k for k in state if 'distance_ema' in k]
    assert ema_keys and all(torch.isfinite(state[k]).all() for k in ema_keys)
    for key in state:
        assert torch.equal(state[key], state2[key]), key
    assert thresholds(model).keys() == thresholds(restored).keys()
    assert restored.backbone.decode() == model.backbone.decode()
    assert copy.deepcopy(restored.export_genotype())['blocks'] == \
        model.export_genotype()['blocks']
