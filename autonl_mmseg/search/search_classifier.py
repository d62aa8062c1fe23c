"""The search wrapper: MMPretrain's ``ImageClassifier`` plus Eqn 15's cost term.
"""
import math
import warnings

import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS
from mmpretrain.models.classifiers import ImageClassifier

from ..models.utils.complexity import genotype_macs, genotype_params
from ..models.utils.genotype import to_plain
from .cost_model import SearchCostModel

COST_FORMS = ('log', 'abs_log')


@MODELS.register_module()
class AutoNLSearchClassifier(ImageClassifier):
    """``ImageClassifier`` over an ``AutoNLSuperNet`` with the cost-aware
    loss of Eqn 15: ``CE + cost_weight * cost``.

    ``cost`` is ``log(MACs / target_macs)`` (``cost_form='log'``: Eqn 15;
    the target only shifts the loss, the gradient is that of
    ``log(MACs)``) or ``|log(MACs / target_macs)|`` (``'abs_log'``: a
    budget, pulls the MACs towards the target from both sides). By default
    (``cost_form=None``) a ``target_macs`` selects ``'abs_log'`` and no
    target plain Eqn 15, so ``target_macs=2e8`` alone makes the search aim
    at 200M MACs. ``MACs`` is the cost model's expected MACs at
    ``cost_input_size``, which equal the decoded network's MACs in the
    forward pass.

    During the warm-up (the first ``cost_warmup`` iterations, or that
    fraction of the run when it is a float < 1) the cost term is off, with
    ``freeze_thresholds_in_warmup`` the thresholds receive no gradient, and
    with ``warmup_keep_prob < 1`` every gate takes its smaller choice with
    probability ``1 - warmup_keep_prob`` in each forward pass (path
    dropout), so that every candidate path is trained before decisions are
    made. At the first iteration after the warm-up the gates are calibrated
    on their scores (``AutoNLSuperNet.calibrate_thresholds``). The current
    iteration is read from the runner's ``MessageHub`` (``iter``,
    ``max_iters``), so a resumed run continues the warm-up where it
    stopped. Without a runner, the warm-up is treated as over.

    The loss dict has ``loss_ce``, ``loss_cost`` (weighted; 0 in the
    warm-up) and, for logging (detached, no 'loss' in the key), ``macs``
    (expected MACs in millions) and ``cost_on``.

    Args:
        backbone (dict): An ``AutoNLSuperNet`` config.
        neck, head, pretrained, train_cfg, data_preprocessor, init_cfg: As
            in ``ImageClassifier``.
        cost_weight (float): lambda of Eqn 15. Default: 0.
        target_macs (float, optional): MACs target of the cost term.
            Default: None (1, i.e. plain ``log(MACs)``).
        cost_form (str, optional): 'log' or 'abs_log'; None: 'abs_log'
            with a ``target_macs``, else 'log'. Default: None.
        cost_warmup (int | float): Warm-up iterations (int) or fraction of
            ``max_iters`` (float < 1). Default: 0.
        cost_input_size (int | tuple[int, int]): Input size the MACs refer
            to (deployment size, independent of the search crops).
            Default: 224.
        cost_num_classes (int, optional): FC outputs the MACs refer to;
            None: the head's ``num_classes``. Default: None.
        freeze_thresholds_in_warmup (bool): Default: True.
        warmup_keep_prob (float): Probability that a gate keeps its (larger)
            choice in a warm-up forward pass; 1 disables path dropout.
            Default: 1.
    """

    def __init__(self,
                 backbone,
                 neck=None,
                 head=None,
                 pretrained=None,
                 train_cfg=None,
                 data_preprocessor=None,
                 init_cfg=None,
                 cost_weight=0.,
                 target_macs=None,
                 cost_form=None,
                 cost_warmup=0,
                 cost_input_size=224,
                 cost_num_classes=None,
                 freeze_thresholds_in_warmup=True,
                 warmup_keep_prob=1.):
        super().__init__(backbone, neck=neck, head=head,
                         pretrained=pretrained, train_cfg=train_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not hasattr(self.backbone, 'decode'):
            raise TypeError('AutoNLSearchClassifier needs a searchable '
                            f'backbone, got {type(self.backbone).__name__}')
        if cost_form is None:
            cost_form = 'log' if target_macs is None else 'abs_log'
        if cost_form not in COST_FORMS:
            raise ValueError(f'cost_form must be one of {COST_FORMS}, got '
                             f'{cost_form!r}')
        if not 0 < warmup_keep_prob <= 1:
            raise ValueError('warmup_keep_prob must be in (0, 1], got '
                             f'{warmup_keep_prob}')
        if cost_weight < 0:
            raise ValueError(f'cost_weight must be >= 0, got {cost_weight}')
        if target_macs is not None and target_macs <= 0:
            raise ValueError(f'target_macs must be > 0, got {target_macs}')
        if isinstance(cost_warmup, float) and not 0 <= cost_warmup < 1:
            raise ValueError('a float cost_warmup is a fraction in [0, 1), '
                             f'got {cost_warmup}')
        if isinstance(cost_warmup, int) and cost_warmup < 0:
            raise ValueError(f'cost_warmup must be >= 0, got {cost_warmup}')
        self.cost_weight = float(cost_weight)
        self.target_macs = target_macs
        self.cost_form = cost_form
        self.cost_warmup = cost_warmup
        self.cost_input_size = cost_input_size
        self.freeze_thresholds_in_warmup = freeze_thresholds_in_warmup
        self.warmup_keep_prob = float(warmup_keep_prob)
        self.num_classes = getattr(self.head, 'num_classes', 0) or 0
        self.cost_num_classes = self.num_classes \
            if cost_num_classes is None else int(cost_num_classes)
        self.cost_model = SearchCostModel(self.backbone, cost_input_size,
                                          self.cost_num_classes)
        self._warned = False

    # ---------------------------------------------------------- warm-up --
    def warmup_iters(self, max_iters=None):
        """The warm-up length in iterations (None: unknown)."""
        if isinstance(self.cost_warmup, float):
            if self.cost_warmup == 0:
                return 0
            return None if max_iters is None else \
                int(math.ceil(self.cost_warmup * max_iters))
        return int(self.cost_warmup)

    def cost_active(self):
        """Whether the cost term is on at the runner's current iteration."""
        hub = MessageHub.get_current_instance()
        iteration = hub.get_info('iter')
        warmup = self.warmup_iters(hub.get_info('max_iters'))
        if iteration is None or warmup is None:
            if not self._warned and self.cost_warmup:
                warnings.warn('AutoNLSearchClassifier: no runner iteration '
                              'in the MessageHub; the cost warm-up is '
                              'treated as over')
                self._warned = True
            return True
        return iteration >= warmup

    # ------------------------------------------------------------- cost --
    def cost(self, macs):
        """The (unweighted) cost term of Eqn 15 for ``macs`` (tensor)."""
        ratio = macs / (self.target_macs or 1.)
        value = torch.log(ratio)
        return value.abs() if self.cost_form == 'abs_log' else value

    def expected_macs(self):
        return self.cost_model(self.backbone)

    def loss(self, inputs, data_samples):
        active = self.cost_active()
        backbone = self.backbone
        backbone.freeze_thresholds(self.freeze_thresholds_in_warmup
                                   and not active)
        if active and not backbone.calibrated():
            backbone.calibrate_thresholds()
        # path dropout in the warm-up's forward pass only (not in the cost
        # model's evaluation, nor in decoding)
        backbone.set_path_dropout(0. if active else 1 -
                                  self.warmup_keep_prob)
        try:
            feats = self.extract_feat(inputs)
        finally:
            backbone.set_path_dropout(0.)
        losses = self.head.loss(feats, data_samples)
        ce = losses.pop('loss')
        macs = self.expected_macs()
        weight = self.cost_weight if active else 0.
        cost = (weight * self.cost(macs)).to(ce.dtype)
        losses.update(
            loss_ce=ce,
            loss_cost=cost,
            macs=(macs.detach() / 1e6).to(ce.dtype),
            cost_on=ce.new_tensor(float(active)))
        return losses

    # ---------------------------------------------------------- decoding --
    def export_genotype(self, name='autonl-search', meta=None):
        """The decoded genotype with MACs / params in ``meta``."""
        genotype = self.backbone.decode(name)
        macs = genotype_macs(genotype, self.cost_model.input_size,
                             self.cost_num_classes)['total']
        info = dict(
            macs=int(macs),
            macs_input_size=list(self.cost_model.input_size),
            macs_num_classes=self.cost_num_classes,
            macs_224=int(genotype_macs(genotype, (224, 224),
                                       self.num_classes)['total']),
            params=int(genotype_params(genotype, self.num_classes)),
            num_classes=self.num_classes,
            num_blocks=len(genotype['blocks']),
            num_light_nl=sum(b['non_local'] is not None
                             for b in genotype['blocks']),
            search=dict(
                cost_weight=self.cost_weight,
                target_macs=self.target_macs,
                cost_form=self.cost_form,
                cost_warmup=self.cost_warmup,
                warmup_keep_prob=self.warmup_keep_prob,
                search_space=to_plain(self.backbone.space['definition'])))
        info.update(meta or {})
        genotype['meta'] = info
        return genotype
