"""Let ``torch.load(weights_only=True)`` read MMEngine's own checkpoints.

From torch 2.6 on, ``torch.load`` only unpickles allow-listed globals, and
mmengine 0.10.7 calls it without ``weights_only``. We keep that safety on and
allow-list exactly the (non-tensor) things that mmengine stores in a
checkpoint: the message hub's ``HistoryBuffer`` objects, the numpy arrays
and scalars inside them, and references to ``HistoryBuffer``'s statistics
methods (``min``/``max``/``mean``/``current``), which pickle protocol 2 writes
as ``getattr(HistoryBuffer, 'min')``.

``builtins.getattr`` itself is NOT allowed: it would let a crafted file reach
any attribute of any allowed object. Instead the name ``builtins.getattr`` is
mapped to :func:`history_buffer_getattr`, which resolves only the statistics
methods registered on ``HistoryBuffer`` and refuses everything else.
"""
import torch


def history_buffer_getattr(obj, name, *default):
    """A ``getattr`` that only resolves ``HistoryBuffer`` statistics methods."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and (name in HistoryBuffer._statistics_methods
                                 or name in ('min', 'max', 'mean', 'current')):
        return getattr(obj, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a weights_only checkpoint: '
        'only HistoryBuffer statistics methods are allow-listed')


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
            *dtype_classes, (history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoint_globals():
    """Allow-list what mmengine checkpoints contain (idempotent)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(_mmengine_checkpoint_globals())
