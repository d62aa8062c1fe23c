"""Let ``torch.load(weights_only=True)`` read MMEngine's own checkpoints.

From torch 2.6 on, ``torch.load`` only unpickles allow-listed globals, and
mmengine 0.10.7 calls it without ``weights_only``. We keep that safety on and
allow-list exactly the (non-tensor) types that mmengine stores in a
checkpoint: the message hub's ``HistoryBuffer`` objects, which hold numpy
arrays and scalars, and the numpy machinery needed to rebuild those.
"""
import torch


def _mmengine_checkpoint_globals():
    import numpy as np
    from mmengine.logging import HistoryBuffer

    try:  # numpy >= 1.25 moved the pickle helpers
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover
        from numpy._core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        'float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64',
        'uint8', 'bool')]
    return [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
            *dtype_classes]


def allow_mmengine_checkpoint_globals():
    """Allow-list what mmengine checkpoints contain (idempotent)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(_mmengine_checkpoint_globals())
