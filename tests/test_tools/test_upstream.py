"""The OpenMMLab entry points users reach for, on our configs and
checkpoints: MMSeg's inferencer and ``init_model``/``inference_model``,
MMPretrain's ``get_model`` and inferencer, and MMSeg's / MMPretrain's own
``tools/test.py``, ``tools/train.py`` and ``print_config.py``, unchanged
(run from the installed packages' ``.mim/tools``)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import (ROOT, SINGLE_THREAD, cls_data_options, run_tool,
                      seg_test_options)


def upstream_tool(package, relative):
    module = pytest.importorskip(package)
    path = Path(module.__file__).parent / '.mim' / 'tools' / relative
    if not path.exists():
        pytest.skip(f'{package} ships no {relative}')
    return str(path)


def first_val_image(voc_root):
    name = (voc_root / 'ImageSets/Segmentation/val.txt').read_text().split()[0]
    return str(voc_root / 'JPEGImages' / f'{name}.jpg')


def test_mmseg_inferencer_and_inference_model_agree(seg_run, toy_voc_root):
    import mmcv
    from mmseg.apis import MMSegInferencer, inference_model, init_model

    import autonl_mmseg  # noqa: F401
    image = first_val_image(toy_voc_root)
    h, w = mmcv.imread(image).shape[:2]
    model = init_model(seg_run.config, str(seg_run.checkpoint), device='cpu')
    pred = inference_model(model, image).pred_sem_seg.data[0].numpy()
    assert pred.shape == (h, w)
    inferencer = MMSegInferencer(model=seg_run.config,
                                 weights=str(seg_run.checkpoint),
                                 device='cpu')
    result = inferencer(image, return_datasamples=True)
    pred2 = result.pred_sem_seg.data[0].numpy()
    # the same weights give the same map through both entry points
    assert np.array_equal(pred, pred2)
    assert set(np.unique(pred)) <= set(range(21))


def test_mmpretrain_get_model_and_inferencer(cls_runs, toy_imagenet_root):
    import torch
    from mmpretrain import ImageClassificationInferencer, get_model

    import autonl_mmseg  # noqa: F401
    run = cls_runs['mobilenet-v2']
    model = get_model(run.config, pretrained=str(run.checkpoint),
                      device='cpu')
    saved = torch.load(run.checkpoint, map_location='cpu',
                       weights_only=True)['state_dict']
    key = 'backbone.conv1.conv.weight'
    assert torch.equal(model.state_dict()[key], saved[key])
    image = sorted(p for p in (toy_imagenet_root / 'val').rglob('*')
                   if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))[0]
    # MMSeg's APIs (used by other tests in this process) leave 'mmseg' as the
    # process-wide default scope, and MMPretrain's inferencer builds its
    # pipeline in the current scope: give it its own, as a fresh process has
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        inferencer = ImageClassificationInferencer(
            model=run.config, pretrained=str(run.checkpoint), device='cpu')
        result = inferencer(str(image))[0]
    assert 0 <= result['pred_label'] < 6
    assert result['pred_class'] in ('aeroplane', 'bird', 'car', 'cat', 'dog',
                                    'person')


def test_mmseg_own_test_and_train(seg_run, toy_voc_root, tmp_path):
    options = seg_test_options(toy_voc_root)
    proc = run_tool([upstream_tool('mmseg', 'test.py'), seg_run.config,
                     str(seg_run.checkpoint), '--work-dir',
                     str(tmp_path / 'test'), '--cfg-options', *options],
                    env=SINGLE_THREAD)
    assert 'mIoU' in proc.stdout + proc.stderr
    run_tool([upstream_tool('mmseg', 'train.py'), seg_run.config,
              '--work-dir', str(tmp_path / 'train'), '--cfg-options',
              *options, 'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
              'default_hooks.checkpoint.interval=1'], env=SINGLE_THREAD)
    assert (tmp_path / 'train' / 'iter_1.pth').exists()


def test_mmpretrain_own_test(cls_runs, toy_imagenet_root, tmp_path):
    run = cls_runs['mobilenet-v2-lightnl']
    proc = run_tool([upstream_tool('mmpretrain', 'test.py'), run.config,
                     str(run.checkpoint), '--work-dir', str(tmp_path),
                     '--cfg-options', *cls_data_options(toy_imagenet_root)],
                    env=SINGLE_THREAD)
    assert 'accuracy/top1' in proc.stdout + proc.stderr


def test_mmseg_print_config(tmp_path):
    # MMSeg's print_config.py also dumps the config to ./example.py: run it
    # from a scratch folder, with our package on PYTHONPATH
    config = ROOT / 'configs/autonl/deeplabv3_autonl_voc.py'
    proc = subprocess.run(
        [sys.executable, upstream_tool('mmseg', 'misc/print_config.py'),
         str(config)], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "genotype='autonl-s'" in proc.stdout
    assert "type='AutoNLNet'" in proc.stdout
    assert (tmp_path / 'example.py').exists()
