"""Checkpoint files: read safely, written atomically.

Reading: :func:`read_checkpoint` loads with ``weights_only=True`` and turns
every failure (missing, empty, truncated, refused content) into a one-line
:class:`CheckpointError` naming the file; the tools check every checkpoint a
run is given with it before anything is built.

Writing: :func:`atomic_write` (temporary file, fsync, rename), also as the
MMEngine file backend ``'atomic_local'`` that ``ResumableCheckpointHook``
saves through.

The allow-list: let ``torch.load(weights_only=True)`` read MMEngine's own
checkpoints.

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
import os
import os.path as osp
import pickle
import re

import torch
from mmengine.fileio import LocalBackend, register_backend


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


ATOMIC_BACKEND = 'atomic_local'


class CheckpointError(Exception):
    """A checkpoint that cannot be used: missing, empty, truncated, refused
    by the weights-only unpickler, or not a checkpoint."""


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` all or nothing.

    The bytes go to a hidden temporary file beside ``path``, are flushed to
    disk and then renamed over ``path``: a reader (or a resumed run) sees
    the old file or the new one, never a torn one.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(directory, f'.{osp.basename(path)}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    # the rename itself is durable once the directory entry is on disk
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def is_temporary_file(name):
    """Whether ``name`` is a temporary file left by :func:`atomic_write`."""
    return re.fullmatch(r'\..+\.\d+\.tmp', name) is not None


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose ``put``/``put_text`` write
    atomically (``Runner.save_checkpoint`` writes checkpoints with ``put``).
    """

    def put(self, obj, filepath):
        atomic_write(str(filepath), obj)

    def put_text(self, obj, filepath, encoding='utf-8'):
        atomic_write(str(filepath), obj.encode(encoding))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def weights_only_reason(error):
    """The reason inside torch's several-paragraph weights-only error, on
    one line (None for other errors)."""
    if not isinstance(error, pickle.UnpicklingError):
        return None
    text = str(error)
    if 'WeightsUnpickler error:' in text:
        text = text.split('WeightsUnpickler error:', 1)[1]
    else:  # "Weights only load failed. <advice>\n\n<reason>\n\nCheck..."
        text = '\n\n'.join(
            part for part in re.split(r'\n\s*\n', text)
            if not part.lstrip().startswith('Weights only load failed'))
    text = text.split('Check the documentation')[0]
    # torch's advice to allow-list the global is not ours to give
    text = text.split('Please use `torch.serialization.add_safe_globals')[0]
    return ' '.join(text.split()).rstrip('.')


def read_checkpoint(path, map_location='cpu'):
    """Load a local checkpoint with ``weights_only=True``.

    Returns:
        dict: the checkpoint.

    Raises:
        CheckpointError: one line naming ``path`` and what is wrong with it.
    """
    if not osp.exists(path):
        raise CheckpointError(f'{path}: no such file')
    if not osp.isfile(path):
        raise CheckpointError(f'{path}: not a file')
    if osp.getsize(path) == 0:
        raise CheckpointError(f'{path}: empty file (0 bytes)')
    try:
        checkpoint = torch.load(path, map_location=map_location,
                                weights_only=True)
    except Exception as e:  # noqa: B902  (any failure: unusable)
        reason = weights_only_reason(e)
        if reason and ('global' in reason.lower() or 'refusing' in reason):
            raise CheckpointError(
                f'{path}: refused by torch.load(weights_only=True) (only '
                f'tensors and allow-listed types may be unpickled): '
                f'{reason}') from e
        if reason is None:
            text = str(e).strip()
            reason = text.splitlines()[0][:300] if text else ''
        raise CheckpointError(f'{path}: unreadable (truncated or corrupt '
                              f'file?): {type(e).__name__}: {reason}') from e
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{path}: not a checkpoint (holds a '
                              f'{type(checkpoint).__name__}, not a dict)')
    return checkpoint


def read_resumable_checkpoint(path):
    """:func:`read_checkpoint`, and check that training can resume from it."""
    checkpoint = read_checkpoint(path)
    meta = checkpoint.get('meta')
    if not isinstance(meta, dict) or 'state_dict' not in checkpoint or \
            'iter' not in meta or 'epoch' not in meta:
        raise CheckpointError(f'{path}: not a training checkpoint (no '
                              'state_dict or no meta iter/epoch)')
    return checkpoint


def checkpoint_steps(directory, filename_tmpl):
    """``{step: path}`` of the checkpoints named like ``filename_tmpl``
    (e.g. 'iter_{}.pth') in ``directory``."""
    if not osp.isdir(directory):
        return {}
    pattern = re.compile(
        re.escape(filename_tmpl).replace(re.escape('{}'), r'(\d+)'))
    steps = {}
    for name in os.listdir(directory):
        match = pattern.fullmatch(name)
        if match:
            steps[int(match.group(1))] = osp.join(directory, name)
    return steps
