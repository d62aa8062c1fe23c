"""The straight-through threshold gate of Single-Path NAS / AutoNL (Eqn 10).

Forward: the hard indicator ``1[score > t]`` (or ``1[score < t]``).
Backward: the gradient of ``sigmoid((score - t) / temperature)``. The
threshold ``t`` is a trainable parameter named ``threshold`` so that configs
can give all thresholds their own optimiser settings with
``paramwise_cfg=dict(custom_keys={'threshold': ...})``.

Two helpers turn gates into the one-hot choice vectors the supernet and the
cost model use:

- :func:`nested_one_hot`: Single-Path NAS' nested choices (kernel 3 -> 5,
  expansion 3 -> 6): choice ``j`` is active when gates ``1..j`` are on.
- :func:`first_under_threshold`: Eqn 12, the first (most compact) candidate
  whose distance is under the threshold; the last candidate (the reference)
  when none is.

Products of straight-through values are exact 0/1 in the forward pass, so
every one-hot vector built here is hard in the forward pass and carries the
sigmoid relaxation's gradient in the backward pass.
"""
import torch
from torch import nn


def straight_through(hard, soft):
    """``hard`` in the forward pass, the gradient of ``soft`` backward."""
    return hard + (soft - soft.detach())  # exactly `hard` in the forward


class ThresholdGate(nn.Module):
    """``1[score > t]`` (``direction='above'``) or ``1[score < t]``
    (``'below'``) with a trainable threshold ``t`` and a sigmoid relaxation
    for the backward pass.

    Args:
        init_threshold (float): Initial ``t``. Default: 0.
        temperature (float): Scale of the sigmoid relaxation
            ``sigmoid(margin / temperature)``; it only changes gradient
            magnitudes, never a decision. Default: 1.
        direction (str): 'above' (keep when the score exceeds t, Eqn 10) or
            'below' (accept when a distance is under t, Eqn 12).
            Default: 'above'.
    """

    def __init__(self, init_threshold=0., temperature=1., direction='above'):
        super().__init__()
        if direction not in ('above', 'below'):
            raise ValueError(
                f"direction must be 'above' or 'below', got {direction!r}")
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.threshold = nn.Parameter(torch.tensor(float(init_threshold)))
        self.temperature = float(temperature)
        self.direction = direction
        # Set by the search wrapper during the warm-up: the threshold stays
        # in the graph (DDP sees it used) but receives a zero gradient.
        self.frozen = False

    def margin(self, score):
        """Positive when the gate is on."""
        threshold = self.threshold
        if self.frozen:
            threshold = threshold.detach() + 0. * threshold
        threshold = threshold.to(score.dtype)
        return score - threshold if self.direction == 'above' else \
            threshold - score

    def forward(self, score):
        margin = self.margin(score)
        hard = (margin > 0).to(margin.dtype)
        return straight_through(hard, torch.sigmoid(margin / self.temperature))

    def extra_repr(self):
        return (f'threshold={self.threshold.item():.4g}, temperature='
                f'{self.temperature}, direction={self.direction!r}')


def nested_one_hot(gate_values, like):
    """One-hot choice vector of a nested chain of gates.

    Args:
        gate_values (list[Tensor]): values of the gates of choices
            ``2..n`` (choice 1 needs no gate).
        like (Tensor): a scalar giving dtype and device.

    Returns:
        Tensor: ``(n, )``, entry ``j`` = gates ``2..j`` on and gate ``j+1``
        off.
    """
    active = [torch.ones_like(like)]  # active[j]: choices 1..j+1 all on
    for value in gate_values:
        active.append(active[-1] * value)
    active.append(torch.zeros_like(like))
    return torch.stack(
        [active[j] - active[j + 1] for j in range(len(active) - 1)])


def first_under_threshold(gate, distances):
    """Eqn 12: one-hot of the first candidate with ``distance < t``.

    Args:
        gate (ThresholdGate): a ``direction='below'`` gate.
        distances (Tensor): ``(n, )``, candidates from the most compact to
            the reference; the reference's own distance is ignored (it is
            chosen when no other candidate is).

    Returns:
        Tensor: ``(n, )`` one-hot (straight-through).
    """
    accepted = [gate(d) for d in distances[:-1]]
    none_before = torch.ones((), dtype=distances.dtype,
                             device=distances.device)
    choice = []
    for value in accepted:
        choice.append(none_before * value)
        none_before = none_before * (1 - value)
    choice.append(none_before)
    return torch.stack(choice)
