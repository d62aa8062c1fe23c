from .checkpoint import (CheckpointError, allow_mmengine_checkpoint_globals,
                         read_checkpoint)
from .checkpoint_hook import ResumableCheckpointHook
from .hooks import EpochSeedHook
from .optimizers import build_rmsprop_tf
from .random_state import get_random_state, set_random_state

allow_mmengine_checkpoint_globals()

__all__ = [
    'CheckpointError', 'EpochSeedHook', 'ResumableCheckpointHook',
    'allow_mmengine_checkpoint_globals', 'build_rmsprop_tf',
    'get_random_state', 'read_checkpoint', 'set_random_state'
]
