"""tools/model_converters: a search checkpoint with the supernet's old keys
(recorded from the code before MBConvNet) resumes after conversion."""
import json
import sys
from pathlib import Path

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
    net = AutoNLSuperNet(tiny_space())
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
    # one tensor per old key, none lost or duplicated
    assert sorted(v.flatten()[0].item() for v in backbone.values()
                  if v.numel()) == sorted(
                      float(i) for i, s in enumerate(old_shapes.values())
                      if torch.Size(s).numel())
