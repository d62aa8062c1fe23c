"""Generic training hooks of ours (the search's own hooks are in
``autonl_mmseg.search.hooks``)."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed Python, NumPy and PyTorch at the start of every training
    epoch from ``(runner.seed, epoch)``.

    MMEngine does not store random states in checkpoints, so after
    ``--resume`` dropout masks and data augmentation would differ from an
    uninterrupted run. With this hook every epoch's randomness depends only
    on the seed and the epoch, so an epoch-based search resumed from an
    epoch checkpoint continues exactly (data loading in the main process or
    in non-persistent workers; persistent workers keep their own state).
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner):
        seed = runner.seed if runner.seed is not None else 0
        seed = (seed + 1000003 * (runner.epoch + 1)) % 2**31
        if getattr(runner, '_randomness_cfg', {}).get('diff_rank_seed'):
            seed = (seed + get_rank()) % 2**31
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
