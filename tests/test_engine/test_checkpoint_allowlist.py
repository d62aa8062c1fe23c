"""weights_only=True loads mmengine checkpoints, and only those types."""
import io
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import autonl_mmseg  # noqa: F401


def test_message_hub_state_loads_with_weights_only():
    hub = MessageHub.get_instance('allowlist_test')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
    hub.update_info('iter', 3)
    buf = io.BytesIO()
    torch.save(dict(message_hub=hub.state_dict(),
                    meta=dict(iter=3, epoch=0, seed=0)), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    loss = state['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert loss.current() == pytest.approx(1 / 3)
    assert loss.statistics('min') == pytest.approx(1 / 3)


class _Reach:
    """Pickles as getattr(HistoryBuffer, <name>) (what a crafted file does)."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (getattr, (HistoryBuffer, self.name))


def test_other_getattr_is_refused():
    buf = io.BytesIO()
    torch.save({'x': _Reach('__init__')}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)
    buf = io.BytesIO()
    torch.save({'x': _Reach('min')}, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)['x'] is HistoryBuffer.min
