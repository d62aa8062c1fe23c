from .checkpoint import allow_mmengine_checkpoint_globals
from .hooks import EpochSeedHook
from .optimizers import build_rmsprop_tf

allow_mmengine_checkpoint_globals()

__all__ = ['allow_mmengine_checkpoint_globals', 'EpochSeedHook',
           'build_rmsprop_tf']
