"""The straight-through threshold gate of Single-Path NAS / AutoNL (Eqn 10).

Forward: the hard indicator ``1[log(score) > t]`` (or ``< t``).
Backward: the gradient of ``sigmoid((log(score) - t) / temperature)``.

Scores are compared in the log domain. Every score of the search is a
positive quantity whose scale depends on the block (a weight gate's
``mean(w^2)`` is ``2 / (C k^2)`` under fan-out initialisation, a LightNL
distance ranges 0.001 .. 0.8 across blocks); in the log domain a scale is
a shift, which the per-gate threshold initialisation absorbs
(:meth:`ThresholdGate.calibrate`), so one temperature and one margin fit
every gate: the gate flips when its score changes by a *factor*.

The threshold ``t`` is a trainable parameter named ``threshold`` so that
configs can give all thresholds their own optimiser settings with
``paramwise_cfg=dict(custom_keys={'threshold': ...})``.

Calibration: before the search phase the thresholds sit at
``init_threshold`` (-50: every weight gate on, no compact candidate
accepted, i.e. the largest network). At the first iteration of the search
phase each gate is calibrated once, ``t = log(score) - init_margin``: a
weight gate is then on by ``init_margin`` (its mean square must fall by
``exp(init_margin)`` before it switches off), a distance gate off by
``init_margin`` (its distance must fall by that factor). ``calibrated`` is
a buffer, so a resumed search does not calibrate again.

Path dropout (warm-up): with ``drop_prob > 0`` the hard value takes the
*smaller* choice (off for 'above', accepted for 'below') with that
probability, independently per call, so that every candidate path is
trained before decisions are made.

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
import math

import torch
from torch import nn

#: the log of a score is clamped here: a zero score (all weights zero, a
#: zero distance, e.g. a stride-2 candidate on a 1x1 map) is a very small
#: one, not -inf. Above the uncalibrated threshold (-50), so that such a
#: candidate is not accepted before calibration either (mean squares of
#: weights are ~e^-10, far above).
LOG_FLOOR = -40.


def straight_through(hard, soft):
    """``hard`` in the forward pass, the gradient of ``soft`` backward."""
    return hard + (soft - soft.detach())  # exactly `hard` in the forward


def log_score(score):
    """``log(score)``, floored at :data:`LOG_FLOOR` (+inf stays +inf)."""
    return torch.log(score).clamp_min(LOG_FLOOR)


class ThresholdGate(nn.Module):
    """``1[log(score) > t]`` (``direction='above'``) or ``1[log(score) <
    t]`` (``'below'``) with a trainable log threshold ``t`` and a sigmoid
    relaxation for the backward pass.

    Args:
        init_threshold (float): ``t`` before calibration. Default: -50
            (below any score: 'above' gates on, 'below' gates off).
        temperature (float): Scale of the relaxation
            ``sigmoid(margin / temperature)``, in log units. It sets the
            region where the threshold receives a gradient (~4 temperatures
            either side of the score) and the gradient's size there.
            Default: 0.5.
        init_margin (float): Margin (log units) the gate keeps from its
            score after :meth:`calibrate`. Default: 1.
        direction (str): 'above' (keep when the score exceeds t, Eqn 10) or
            'below' (accept when a distance is under t, Eqn 12).
            Default: 'above'.
    """

    def __init__(self,
                 init_threshold=-50.,
                 temperature=0.5,
                 init_margin=1.,
                 direction='above'):
        super().__init__()
        if direction not in ('above', 'below'):
            raise ValueError(
                f"direction must be 'above' or 'below', got {direction!r}")
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if init_margin < 0:
            raise ValueError(f'init_margin must be >= 0, got {init_margin}')
        self.threshold = nn.Parameter(torch.tensor(float(init_threshold)))
        self.register_buffer('calibrated', torch.tensor(False))
        self.temperature = float(temperature)
        self.init_margin = float(init_margin)
        self.direction = direction
        # Set by the search wrapper during the warm-up: the threshold stays
        # in the graph (DDP sees it used) but receives a zero gradient.
        self.frozen = False
        # Set by the search wrapper around the warm-up's forward pass.
        self.drop_prob = 0.
        # The last log score seen (detached tensor), for the diagnostics.
        self.last_score = None

    @torch.no_grad()
    def calibrate(self, score):
        """Once: ``t = log(score) - init_margin`` (no-op when already
        calibrated or when the score is not finite, e.g. a distance EMA
        that has seen no batch yet). Returns whether it calibrated."""
        value = log_score(score.detach().float())
        if bool(self.calibrated) or not torch.isfinite(value):
            return False
        self.threshold.fill_(value.item() - self.init_margin)
        self.calibrated.fill_(True)
        return True

    def margin(self, score):
        """Positive when the gate is on (log units)."""
        threshold = self.threshold
        if self.frozen:
            threshold = threshold.detach() + 0. * threshold
        value = log_score(score)
        # kept as a tensor: a float here would synchronise with the GPU
        # and break torch.compile's graph at every gate of every step
        self.last_score = value.detach()
        return self._signed(value, threshold.to(value.dtype))

    def _signed(self, value, threshold):
        return value - threshold if self.direction == 'above' else \
            threshold - value

    def diagnostics(self):
        """``dict(score, threshold, margin)`` as floats (log units;
        ``score`` and ``margin`` of the last forward pass, None before it
        or when the score was not finite)."""
        threshold = self.threshold.item()
        score = None if self.last_score is None else self.last_score.item()
        if score is None or not math.isfinite(score):
            return dict(score=None, threshold=threshold, margin=None)
        return dict(score=score, threshold=threshold,
                    margin=self._signed(score, threshold))

    def forward(self, score):
        margin = self.margin(score)
        hard = (margin > 0).to(margin.dtype)
        if self.drop_prob > 0:
            dropped = (torch.rand(()) < self.drop_prob).to(hard.dtype)
            smaller = 0. if self.direction == 'above' else 1.
            hard = hard * (1 - dropped) + smaller * dropped
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
    """Eqn 12: one-hot of the first candidate with ``log(distance) < t``.

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
