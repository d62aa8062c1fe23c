"""The straight-through threshold gate and the one-hot helpers."""
import pytest
import torch

from autonl_mmseg.search.gates import (ThresholdGate, first_under_threshold,
                                       nested_one_hot)


@pytest.mark.parametrize('direction', ['above', 'below'])
@pytest.mark.parametrize('score', [0.3, 0.7])
def test_forward_hard_backward_sigmoid(direction, score):
    gate = ThresholdGate(init_threshold=0.5, temperature=0.2,
                         direction=direction)
    s = torch.tensor(score, requires_grad=True)
    out = gate(s)
    on = score > 0.5 if direction == 'above' else score < 0.5
    assert out.item() == float(on)  # exactly 0 or 1
    out.backward()
    margin = (score - 0.5) if direction == 'above' else (0.5 - score)
    sig = torch.sigmoid(torch.tensor(margin / 0.2))
    slope = (sig * (1 - sig) / 0.2).item()
    sign = 1 if direction == 'above' else -1
    assert s.grad.item() == pytest.approx(sign * slope, rel=1e-5)
    assert gate.threshold.grad.item() == pytest.approx(-sign * slope,
                                                       rel=1e-5)


def test_frozen_gate_keeps_graph_but_no_threshold_gradient():
    gate = ThresholdGate(0.1, 0.1)
    gate.frozen = True
    s = torch.tensor(0.3, requires_grad=True)
    gate(s).backward()
    assert gate.threshold.grad is not None
    assert gate.threshold.grad.item() == 0
    assert s.grad.item() != 0


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
    gate = ThresholdGate(threshold, 0.1, direction='below')
    choice = first_under_threshold(gate, torch.tensor([0.3, 0.1, 0.0]))
    assert choice.tolist() == [float(i == expected) for i in range(3)]
    choice.sum().backward()  # one-hot sums to 1: zero total gradient
    assert abs(gate.threshold.grad.item()) < 1e-6


def test_first_under_threshold_gradient_moves_choice():
    # pushing the threshold up makes the more compact candidate more likely
    gate = ThresholdGate(0.2, 0.1, direction='below')
    choice = first_under_threshold(gate, torch.tensor([0.3, 0.1, 0.0]))
    choice[0].backward()
    assert gate.threshold.grad.item() > 0
