from .checkpoint import allow_mmengine_checkpoint_globals
from .console import ConsoleProgressHook, progress_bar, quiet_console
from .hooks import EpochSeedHook, GenotypeMetaHook, SegShowDirHook

allow_mmengine_checkpoint_globals()

__all__ = [
    'allow_mmengine_checkpoint_globals', 'ConsoleProgressHook',
    'EpochSeedHook', 'GenotypeMetaHook', 'progress_bar', 'quiet_console',
    'SegShowDirHook'
]
