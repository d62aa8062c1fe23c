"""The random states of a process, as plain data a checkpoint can hold.

A training step draws from four generators: Python's ``random`` and NumPy's
global generator (data augmentation in the main process), and torch's CPU
and CUDA generators (dropout, initialisation, the DataLoader's base seed).
MMEngine stores none of them, so a resumed run draws different numbers than
the uninterrupted one. :func:`get_random_state` captures all four as tensors,
ints and floats (nothing ``torch.load(weights_only=True)`` refuses) and
:func:`set_random_state` puts them back.
"""
import random
from contextlib import contextmanager

import numpy as np
import torch


def get_random_state():
    """The state of Python's, NumPy's and torch's global generators."""
    py_version, py_internal, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = dict(
        python=dict(version=py_version,
                    internal=torch.tensor(py_internal, dtype=torch.int64),
                    gauss_next=py_gauss),
        numpy=dict(name=np_name,
                   keys=torch.from_numpy(np_keys.astype(np.int64)),
                   pos=int(np_pos), has_gauss=int(np_has_gauss),
                   cached_gaussian=float(np_gauss)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state):
    """Restore what :func:`get_random_state` returned."""
    py = state['python']
    random.setstate((py['version'], tuple(py['internal'].tolist()),
                     py['gauss_next']))
    npy = state['numpy']
    np.random.set_state((npy['name'], npy['keys'].numpy().astype(np.uint32),
                         npy['pos'], npy['has_gauss'],
                         npy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if state.get('cuda') and torch.cuda.is_available():
        cuda = state['cuda'][:torch.cuda.device_count()]
        for device, cuda_state in enumerate(cuda):
            torch.cuda.set_rng_state(cuda_state, device)


@contextmanager
def random_state_kept():
    """Run a block without moving the global generators."""
    state = get_random_state()
    try:
        yield
    finally:
        set_random_state(state)
