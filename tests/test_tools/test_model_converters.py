"""tools/model_converters: a search checkpoint with the supernet's old keys
(recorded from the code before MBConvNet) resumes after conversion."""
import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
sys.path.insert(0, str(ROOT / 'tests'))


def test_old_supernet_keys_convert_to_the_new_ones(tmp_path):
    import convert_supernet_checkpoint as converter
    from test_search.helpers import tiny_space

    from autonl_mmseg.search import AutoNLSuperNet
    fixture = ROOT / 'tests/fixtures/supernet_tiny_state_dict_keys_old.json'
    with open(fixture) as f:
        old_shapes = json.load(f)
    # the space of the old checkpoint: SE fixed per stage
    net = AutoNLSuperNet(dict(tiny_space(), se_ratios=(0, )))
    new = net.state_dict()
    # old keys under a classifier's 'backbone.' prefix, with values that
    # tell the tensors apart
    old = {f'backbone.{k}': torch.full(shape, float(i))
           for i, (k, shape) in enumerate(old_shapes.items())}
    old['head.fc.weight'] = torch.zeros(4, 64)
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    torch.save(dict(state_dict=old, meta=dict(iter=3)), src)
    converter.main([str(src), str(dst)])
    converted = torch.load(dst)['state_dict']
    assert 'head.fc.weight' in converted
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()
                if k.startswith('backbone.')}
    # same order: optimizer state holds (old checkpoints have no
    # 'architecture' buffer; they load without it)
    new.pop('architecture')
    assert list(backbone) == list(new)
    assert {k: v.shape for k, v in backbone.items()} == \
        {k: v.shape for k, v in new.items()}
    net.load_state_dict(backbone, strict=True)
    # one tensor per old key, none lost or duplicated; the linear
    # thresholds became log thresholds (t = i > 0: log i; 0: uncalibrated)
    def is_gate(k):
        return k.endswith(('threshold', 'calibrated'))

    values = sorted(v.flatten()[0].item() for k, v in backbone.items()
                    if v.numel() and not is_gate(k))
    old_values = {k: float(i) for i, (k, s) in enumerate(old_shapes.items())
                  if torch.Size(s).numel()}
    assert values == sorted(v for k, v in old_values.items()
                            if not k.endswith('threshold'))
    thresholds = [v for k, v in backbone.items() if k.endswith('threshold')]
    assert sorted(t.item() for t in thresholds) == pytest.approx(sorted(
        math.log(v) if v > 0 else -50. for k, v in old_values.items()
        if k.endswith('threshold')))
    calibrated = [k for k in backbone if k.endswith('calibrated')]
    assert len(calibrated) == len(thresholds)
    assert all(bool(backbone[k]) == (backbone[k[:-len('calibrated')] +
                                             'threshold'].item() > -50)
               for k in calibrated)
