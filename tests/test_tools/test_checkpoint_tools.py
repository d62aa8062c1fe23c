"""Checkpoints that say what they are (GenotypeMetaHook, the architecture
buffer) and the tools that read them: export_genotype.py, test.py's
one-line refusal, vis_cam.py side by side, plot_curves.py."""
import importlib.util
import json
from pathlib import Path

import mmcv
import pytest
import torch

from conftest import ROOT, run_tool, seg_test_options


def load_script(relative):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location('_tool_' + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_checkpoint(path):
    import autonl_mmseg  # noqa: F401  (checkpoint allow-list)
    return torch.load(path, map_location='cpu', weights_only=True)


def shipped(name):
    from autonl_mmseg.models.utils import load_genotype
    return load_genotype(name)


def test_checkpoints_carry_their_genotype(seg_run, cls_runs):
    for name, run in [('mobilenet-v2', seg_run),
                      ('mobilenet-v2', cls_runs['mobilenet-v2']),
                      ('mobilenet-v2-lightnl',
                       cls_runs['mobilenet-v2-lightnl'])]:
        checkpoint = read_checkpoint(run.checkpoint)
        assert checkpoint['meta']['genotype'] == shipped(name), run.config
        assert 'backbone.architecture' in checkpoint['state_dict']


def test_export_genotype_of_any_checkpoint(cls_runs, tmp_path):
    from autonl_mmseg.models.utils import load_genotype
    tool = load_script('tools/export_genotype.py')
    run = cls_runs['mobilenet-v2-lightnl']
    out = tmp_path / 'from_meta.json'
    tool.main([str(run.checkpoint), str(out), '--name', 'mine'])
    exported = load_genotype(str(out))
    assert exported['name'] == 'mine'
    assert exported['blocks'] == shipped('mobilenet-v2-lightnl')['blocks']
    # weights saved without meta (torch.save of a state dict): the
    # backbone's architecture buffer still names the genotype
    state_dict = read_checkpoint(run.checkpoint)['state_dict']
    bare = tmp_path / 'bare.pth'
    torch.save(state_dict, bare)
    out = tmp_path / 'from_buffer.json'
    tool.main([str(bare), str(out)])
    assert load_genotype(str(out))['blocks'] == exported['blocks']
    # weights without any: one line
    del state_dict['backbone.architecture']
    torch.save(state_dict, bare)
    with pytest.raises(SystemExit):
        tool.main([str(bare), str(tmp_path / 'none.json')])


def test_test_py_refuses_a_checkpoint_of_another_genotype(
        seg_run, toy_voc_root, tmp_path):
    proc = run_tool(['tools/test.py',
                     'configs/autonl/toy/deeplabv3_autonl_toy-voc.py',
                     str(seg_run.checkpoint), '--work-dir', str(tmp_path),
                     '--cfg-options', *seg_test_options(toy_voc_root)],
                    check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    assert "'mobilenet-v2'" in lines[0] and "'autonl-s'" in lines[0]


def test_vis_cam_side_by_side(cls_runs, toy_imagenet_root, tmp_path,
                              capsys):
    tool = load_script('tools/visualization/vis_cam.py')
    a, b = cls_runs['mobilenet-v2'], cls_runs['mobilenet-v2-lightnl']
    val = toy_imagenet_root / 'val'
    written = tool.main([
        str(val), a.config, str(a.checkpoint), '--compare', b.config,
        str(b.checkpoint), '--out-dir', str(tmp_path / 'cam'),
        '--max-images', '2', '--labels', 'MobileNetV2', 'LightNL'])
    images = sorted(p for p in val.rglob('*.JPEG'))[:2]
    assert [Path(p).name for p in written] == [f'{p.stem}.png'
                                                for p in images]
    figure = mmcv.imread(written[0])
    # three panels side by side: image | CAM A | CAM B
    assert figure.shape[1] > 2.5 * figure.shape[0]
    # the CAMs differ from model to model (different weights)
    cam = tool.CamModel(a.config, str(a.checkpoint), 'GradCAM', None, 'cpu')
    cam_b = tool.CamModel(b.config, str(b.checkpoint), 'GradCAM', None,
                          'cpu')
    _, map_a, _, _ = cam.explain(str(images[0]), category=0)
    _, map_b, _, _ = cam_b.explain(str(images[0]), category=0)
    assert map_a.shape == map_b.shape == (56, 56)
    assert 0 <= map_a.min() and map_a.max() <= 1
    assert not (map_a == map_b).all()
    # a checkpoint of another genotype than the config's: one line
    capsys.readouterr()
    with pytest.raises(SystemExit):
        tool.main([str(images[0]), a.config, str(b.checkpoint)])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'mobilenet-v2-lightnl'" in err[0], err


def test_plot_curves(seg_run, cls_runs, tmp_path):
    tool = load_script('tools/analysis_tools/plot_curves.py')
    runs = [cls_runs['mobilenet-v2'], cls_runs['mobilenet-v2-lightnl'],
            seg_run]
    out = tmp_path / 'curves.png'
    last = tool.plot([str(r.work_dir) for r in runs], str(out),
                     labels=['a', 'b', 'seg'])
    figure = mmcv.imread(str(out))
    assert figure.shape[1] > 2 * figure.shape[0]  # loss | top1 | mIoU
    # the last values are those of the scalars MMEngine wrote
    for label, run in zip(['a', 'b', 'seg'], runs):
        scalars = next(run.work_dir.glob('*/vis_data/scalars.json'))
        records = [json.loads(line)
                   for line in scalars.read_text().splitlines()]
        key = 'mIoU' if label == 'seg' else 'accuracy/top1'
        assert last[label][key] == [r[key] for r in records if key in r][-1]
    assert 'loss' in last['a'] and 'mIoU' not in last['a']
    with pytest.raises(FileNotFoundError):
        tool.plot([str(tmp_path)], str(out))
