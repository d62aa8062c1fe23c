"""tools/model_converters/switch_to_deploy.py and
tools/deployment/pytorch2onnx.py keep the outputs of trained weights."""
import sys

import pytest
import torch

from conftest import ROOT, trained_norms

sys.path.insert(0, str(ROOT / 'tools' / 'analysis_tools'))
sys.path.insert(0, str(ROOT / 'tools' / 'deployment'))
sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))

CLS = 'configs/autonl/mobilenet-v2-lightnl_in1k.py'
SEG = 'configs/autonl/deeplabv3_mobilenet-v2-lightnl_voc.py'


def trained_checkpoint(config, path):
    """A checkpoint of the config's model whose norms (LightNL's too) hold
    non-trivial statistics and affine parameters, as after training."""
    from analysis_utils import build_model_from_config
    model = trained_norms(build_model_from_config(str(ROOT / config)))
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return path


def tensor_output(config, checkpoint, x, cfg_options=None):
    from analysis_utils import TensorMode, build_model_from_config
    model = TensorMode(build_model_from_config(
        str(ROOT / config), cfg_options, checkpoint=str(checkpoint))).eval()
    with torch.no_grad():
        return model(x)


def test_switch_to_deploy_converter(tmp_path):
    import switch_to_deploy
    ckpt = trained_checkpoint(CLS, tmp_path / 'trained.pth')
    out = tmp_path / 'deploy.pth'
    switch_to_deploy.main([str(ROOT / CLS), str(ckpt), str(out)])
    converted = torch.load(out, weights_only=True)
    assert converted['meta']['deploy'] is True
    assert not any('.bn.' in key for key in converted['state_dict'])
    assert 'backbone.layer7.0.light_nl.depthwise_conv.bias' in \
        converted['state_dict']
    x = torch.randn(1, 3, 32, 32)
    ref = tensor_output(CLS, ckpt, x)
    got = tensor_output(CLS, out, x, {'model.backbone.deploy': True})
    assert ((got - ref).norm() / ref.norm()).item() <= 1e-4
    # converting twice is refused with one line
    with pytest.raises(SystemExit, match='2'):
        switch_to_deploy.main([str(ROOT / CLS), str(out), str(tmp_path / 'x')])


@pytest.mark.parametrize('config,shape,classes', [(CLS, (32, 32), 1000),
                                                  (SEG, (48, 64), 21)])
def test_onnx_export_matches_onnxruntime(tmp_path, capsys, config, shape,
                                         classes):
    pytest.importorskip('onnxruntime')
    import onnx
    import pytorch2onnx
    ckpt = trained_checkpoint(config, tmp_path / 'trained.pth')
    out = tmp_path / 'model.onnx'
    pytorch2onnx.main([str(ROOT / config), str(ckpt), '--out', str(out),
                       '--shape', *map(str, shape)])
    assert 'relative error' in capsys.readouterr().out
    graph = onnx.load(str(out))
    assert max(o.version for o in graph.opset_import if o.domain in
               ('', 'ai.onnx')) >= 17
    # the exported graph is the trained network, not the deploy-form
    # rebuild of initial weights: compare with PyTorch on another input
    x = torch.randn(1, 3, *shape)
    ref = tensor_output(config, ckpt, x)
    got = pytorch2onnx.onnxruntime_session(str(out)).run(
        None, {'input': x.numpy()})[0]
    assert got.shape[:2] == (1, classes)
    assert (float(((torch.from_numpy(got) - ref).norm() / ref.norm()))
            <= 1e-4)
