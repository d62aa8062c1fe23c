from .checkpoint import allow_mmengine_checkpoint_globals
from .hooks import EpochSeedHook

allow_mmengine_checkpoint_globals()

__all__ = ['allow_mmengine_checkpoint_globals', 'EpochSeedHook']
