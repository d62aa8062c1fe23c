from .checkpoint import (CheckpointError, allow_mmengine_checkpoint_globals,
                         read_checkpoint)
from .checkpoint_hook import ResumableCheckpointHook
from .console import ConsoleProgressHook, progress_bar, quiet_console
from .hooks import (ChannelsLastHook, EpochSeedHook, GenotypeMetaHook,
                    SegShowDirHook)
from .optimizers import build_rmsprop_tf
from .random_state import get_random_state, set_random_state

allow_mmengine_checkpoint_globals()

__all__ = [
    'ChannelsLastHook', 'CheckpointError', 'ConsoleProgressHook',
    'EpochSeedHook', 'GenotypeMetaHook', 'ResumableCheckpointHook',
    'SegShowDirHook',
    'allow_mmengine_checkpoint_globals', 'build_rmsprop_tf',
    'get_random_state', 'progress_bar', 'quiet_console', 'read_checkpoint',
    'set_random_state'
]
