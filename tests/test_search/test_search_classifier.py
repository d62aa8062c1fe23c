"""The search wrapper: loss dict, warm-up from the runner's MessageHub,
the cost term's effect, parameter groups and the state round trip."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS
from mmpretrain.structures import DataSample

from autonl_mmseg.models.utils.complexity import genotype_macs

from .conftest import ROOT
from .helpers import thresholds, tiny_space

#: the toy search's optimiser (weights: the toy recipe; thresholds: their
#: own group), as the config builds it
TOY_OPTIM = Config.fromfile(
    str(ROOT / 'configs/_base_/schedules/autonl_search_toy.py')).optim_wrapper


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


@pytest.mark.parametrize('target_factor,sign', [(0.5, 1), (2.0, -1)])
def test_target_alone_selects_the_budget_form(target_factor, sign):
    """``target_macs`` alone makes the cost a budget (|log(MACs/target)|):
    above the target raising thresholds lowers the cost, below it the cost
    pushes the other way; without a target the cost is plain Eqn 15."""
    set_iteration(5, 10)
    assert build_classifier(cost_weight=1.0).cost_form == 'log'
    probe = build_classifier(cost_weight=1.0)
    macs = probe.expected_macs().item()
    model = build_classifier(cost_weight=1.0,
                             target_macs=macs * target_factor)
    assert model.cost_form == 'abs_log'
    model.backbone.calibrate_thresholds()
    model.cost(model.expected_macs()).backward()
    grads = [p.grad.item() for n, p in model.named_parameters()
             if n.endswith('threshold') and p.grad is not None]
    nonzero = [g for g in grads if g != 0]
    assert nonzero and all(sign * g < 0 for g in nonzero)


def test_path_dropout_in_warmup_only():
    """In the warm-up every gate takes its smaller choice with probability
    1 - warmup_keep_prob in the forward pass (so the small paths train);
    the logged MACs and the decoded network stay those of the thresholds;
    after the warm-up the forward pass is deterministic."""
    set_iteration(1, 20)
    model = build_classifier(cost_weight=1.0, cost_warmup=10,
                             warmup_keep_prob=0.5)
    model.train()
    inputs, _ = batch()
    max_macs = model.cost_model.max_macs()
    torch.manual_seed(0)
    losses = [model.loss(*batch())['loss_ce'].item() for _ in range(3)]
    assert len(set(losses)) == 3  # different random paths
    assert model.loss(*batch())['macs'].item() == pytest.approx(
        max_macs / 1e6)
    assert genotype_macs(model.backbone.decode(), (32, 32),
                         4)['total'] == max_macs
    assert all(g.drop_prob == 0 for g in model.backbone.gates())
    set_iteration(10, 20)
    model.eval()  # (BN statistics fixed: the same input, the same output)
    with torch.no_grad():
        first = model.extract_feat(inputs)[-1]
    model.loss(*batch())  # calibrates
    with torch.no_grad():
        assert torch.equal(model.extract_feat(inputs)[-1],
                           model.extract_feat(inputs)[-1])
    assert first.shape[0] == inputs.shape[0]


def test_every_threshold_learns_after_calibration():
    """The test that catches a frozen gate: after the warm-up (distance EMAs
    seen) the gates are calibrated, every threshold receives a non-zero
    gradient from CE + cost and moves in one optimiser step of the toy
    configuration."""
    model = build_classifier(cost_weight=0.5, cost_warmup=2)
    model.train()
    set_iteration(0, 10)
    model.loss(*batch(0))  # warm-up: EMAs seen, thresholds frozen
    assert not any(bool(g.calibrated) for g in model.backbone.gates())
    set_iteration(2, 10)
    wrapper = build_optim_wrapper(model, copy.deepcopy(TOY_OPTIM))
    before = thresholds(model)
    losses = model.loss(*batch(1))
    assert model.backbone.calibrated()
    calibrated = thresholds(model)
    assert all(calibrated[n] != before[n] for n in before)
    wrapper.backward(model.parse_losses(losses)[0])
    zero = [n for n, p in model.named_parameters()
            if n.endswith('threshold') and not p.grad.abs().item() > 0]
    assert not zero
    wrapper.step()
    moved = thresholds(model)
    assert all(moved[n] != calibrated[n] for n in moved)


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


def search_macs(cost_weight, seed, steps=30):
    """A short direct search on a synthetic batch with the toy search's
    optimiser (after a 3-step warm-up); decoded MACs."""
    set_iteration(0, steps)
    torch.manual_seed(seed)
    model = build_classifier(cost_weight=cost_weight, cost_warmup=3)
    wrapper = build_optim_wrapper(model, copy.deepcopy(TOY_OPTIM))
    inputs, samples = batch(seed)
    model.train()
    for step in range(steps):
        set_iteration(step, steps)
        wrapper.update_params(model.parse_losses(
            model.loss(inputs, samples))[0])
    return (genotype_macs(model.backbone.decode(), (32, 32), 4)['total'],
            model.cost_model.max_macs())


@pytest.mark.parametrize('seed', range(3))
def test_lambda_prunes_and_ce_alone_hardly_does(seed):
    """With lambda = 0 the thresholds move only by the CE's evidence (here
    one batch, repeated: consistent evidence, which may remove a small
    choice): the network stays within 10% of the largest (the old gates
    pruned 66% on CE alone). With a large lambda the same run prunes well
    below that unpruned baseline, for every seed."""
    unpruned, max_macs = search_macs(0.0, seed)
    assert unpruned >= 0.9 * max_macs
    pruned, _ = search_macs(5.0, seed)
    assert pruned < 0.9 * unpruned


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


def test_search_step_is_one_graph():
    """No Python scalar reads in the search step (forward with EMA updates
    and gates, and the cost model): ``torch.compile`` keeps it one graph and
    a GPU step does not synchronise at every gate (each ``.item()`` was a
    graph break: 56 of them before)."""
    import torch._dynamo
    model = build_classifier().train()
    inputs, _ = batch()
    model.backbone(inputs)  # the distance EMAs see a batch
    assert model.backbone.calibrate_thresholds() > 0

    def step(x):
        return model.extract_feat(x)[-1].sum() + model.expected_macs()

    torch._dynamo.reset()
    explained = torch._dynamo.explain(step)(inputs)
    assert explained.graph_break_count == 0, [
        b.reason for b in explained.break_reasons]
    # the diagnostics still read every gate's last score as a float
    gates, distances = model.backbone.gate_states()
    assert gates and all(isinstance(g['score'], float)
                         for g in gates.values())
    assert distances and all(isinstance(v, float)
                             for v in distances.values())
