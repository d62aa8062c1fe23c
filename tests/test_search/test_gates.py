"""The straight-through threshold gate (log domain, calibration, path
dropout) and the one-hot helpers."""
import math

import pytest
import torch

from autonl_mmseg.search.gates import (ThresholdGate, first_under_threshold,
                                       nested_one_hot)


@pytest.mark.parametrize('direction', ['above', 'below'])
@pytest.mark.parametrize('score', [0.3, 0.7])
def test_forward_hard_backward_sigmoid(direction, score):
    t = math.log(0.5)
    gate = ThresholdGate(init_threshold=t, temperature=0.2,
                         direction=direction)
    s = torch.tensor(score, requires_grad=True)
    out = gate(s)
    on = score > 0.5 if direction == 'above' else score < 0.5
    assert out.item() == float(on)  # exactly 0 or 1
    out.backward()
    margin = math.log(score) - t
    if direction == 'below':
        margin = -margin
    sig = torch.sigmoid(torch.tensor(margin / 0.2))
    slope = (sig * (1 - sig) / 0.2).item()
    sign = 1 if direction == 'above' else -1
    # d/ds of sigmoid((log s - t) / T) = slope / s
    assert s.grad.item() == pytest.approx(sign * slope / score, rel=1e-5)
    assert gate.threshold.grad.item() == pytest.approx(-sign * slope,
                                                       rel=1e-5)


@pytest.mark.parametrize('scale', [1e-4, 1.0, 30.0])
def test_calibrated_gate_is_scale_free(scale):
    """After calibration a gate's decision and threshold gradient depend
    only on the score's change by a factor, not on its scale (a weight
    gate's mean square is 2 / (C k^2) at init: it shrinks with width)."""
    gate = ThresholdGate(temperature=0.5, init_margin=1.0)
    assert gate.calibrate(torch.tensor(0.02 * scale))
    assert gate.threshold.item() == pytest.approx(
        math.log(0.02 * scale) - 1.0, abs=1e-5)
    decisions, grads = [], []
    for factor in (1.0, 0.5, 0.3):  # falls by 1 log unit at ~0.37
        gate.threshold.grad = None
        out = gate(torch.tensor(0.02 * scale * factor))
        out.backward()
        decisions.append(out.item())
        grads.append(gate.threshold.grad.item())
    assert decisions == [1., 1., 0.]
    reference = ThresholdGate(temperature=0.5, init_margin=1.0)
    reference.calibrate(torch.tensor(0.02))
    reference(torch.tensor(0.02 * 0.5)).backward()
    assert grads[1] == pytest.approx(reference.threshold.grad.item(),
                                     rel=1e-4)


def test_calibrate_once_and_not_on_infinite_scores():
    gate = ThresholdGate(init_margin=0.5, direction='below')
    assert not gate.calibrate(torch.tensor(float('inf')))  # EMA unseen
    assert gate.threshold.item() == -50 and not gate.calibrated
    assert gate.calibrate(torch.tensor(0.2))
    # a 'below' gate is off by the margin: the distance must shrink first
    assert gate(torch.tensor(0.2)).item() == 0
    assert gate(torch.tensor(0.2 * math.exp(-0.6))).item() == 1
    assert not gate.calibrate(torch.tensor(0.9))  # already calibrated
    assert gate.threshold.item() == pytest.approx(math.log(0.2) - 0.5)
    # the flag is state (a resumed search does not calibrate again)
    state = gate.state_dict()
    restored = ThresholdGate(direction='below')
    restored.load_state_dict(state)
    assert restored.calibrated and not restored.calibrate(torch.tensor(0.9))


def test_uncalibrated_gates_start_from_the_largest_network():
    above, below = ThresholdGate(), ThresholdGate(direction='below')
    for score in (1e-12, 1e-3, 5.0):
        assert above(torch.tensor(score)).item() == 1  # kept
        assert below(torch.tensor(score)).item() == 0  # not accepted


def test_frozen_gate_keeps_graph_but_no_threshold_gradient():
    gate = ThresholdGate(math.log(0.1), 0.5)
    gate.frozen = True
    s = torch.tensor(0.3, requires_grad=True)
    gate(s).backward()
    assert gate.threshold.grad is not None
    assert gate.threshold.grad.item() == 0
    assert s.grad.item() != 0


@pytest.mark.parametrize('direction,smaller', [('above', 0.), ('below', 1.)])
def test_path_dropout_takes_the_smaller_choice(direction, smaller):
    gate = ThresholdGate(math.log(0.1), 0.5, direction=direction)
    score = torch.tensor(1.0)  # kept ('above'), not accepted ('below')
    assert gate(score).item() == 1 - smaller  # the larger choice
    gate.drop_prob = 1.
    assert gate(score).item() == smaller
    gate.drop_prob = 0.3
    torch.manual_seed(0)
    values = [gate(score).item() for _ in range(2000)]
    assert set(values) == {0., 1.}
    assert sum(v == smaller for v in values) / 2000 == pytest.approx(
        0.3, abs=0.04)
    # the relaxation's gradient still reaches the threshold
    gate.threshold.grad = None
    gate(score).backward()
    assert gate.threshold.grad.item() != 0


def test_nested_one_hot():
    one, zero = torch.tensor(1.), torch.tensor(0.)
    like = torch.tensor(0.)
    assert nested_one_hot([], like).tolist() == [1.]
    assert nested_one_hot([zero], like).tolist() == [1., 0.]
    assert nested_one_hot([one], like).tolist() == [0., 1.]
    assert nested_one_hot([one, zero], like).tolist() == [0., 1., 0.]
    # a later gate does not matter once an earlier one is off
    assert nested_one_hot([zero, one], like).tolist() == [1., 0., 0.]


@pytest.mark.parametrize('threshold,expected', [(0.05, 2), (0.2, 1),
                                                (0.5, 0)])
def test_first_under_threshold(threshold, expected):
    gate = ThresholdGate(math.log(threshold), 0.5, direction='below')
    choice = first_under_threshold(gate, torch.tensor([0.3, 0.1, 0.01]))
    assert choice.tolist() == [float(i == expected) for i in range(3)]


def test_first_under_threshold_gradient_moves_choice():
    # raising the threshold makes the more compact candidates more likely
    # and the reference less likely
    for target, sign in ((0, 1), (2, -1)):
        gate = ThresholdGate(math.log(0.2), 0.5, direction='below')
        choice = first_under_threshold(gate, torch.tensor([0.3, 0.1, 0.0]))
        choice[target].backward()
        assert sign * gate.threshold.grad.item() > 0
