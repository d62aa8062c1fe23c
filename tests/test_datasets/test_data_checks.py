"""Data that is checked: tools/misc/check_dataset.py reports truncated
images, wrong-size masks, labels outside the classes and missing files;
tools/train.py stops on a missing listed image in one line; a size mismatch
met during training is an error naming the file."""
import shutil

import numpy as np
import pytest
from PIL import Image

from autonl_mmseg.datasets.checks import (DataError, check_dataset_quickly,
                                          check_samples)
from conftest import cls_data_options, run_tool, seg_data_options

SEG = 'configs/autonl/toy/deeplabv3_mobilenet-v2_toy-voc.py'
CLS = 'configs/autonl/toy/mobilenet-v2_toy-in1k.py'


def ids(voc, split='train'):
    return (voc / f'ImageSets/Segmentation/{split}.txt').read_text().split()


@pytest.fixture
def broken_voc(toy_voc_root, tmp_path):
    """The toy VOC with, among the train images: a JPEG truncated to a
    third, a mask of the wrong size, a mask with label 50, a missing
    image."""
    voc = tmp_path / 'VOC2012'
    shutil.copytree(toy_voc_root, voc)
    names = ids(voc)
    jpeg = voc / f'JPEGImages/{names[0]}.jpg'
    data = jpeg.read_bytes()
    jpeg.write_bytes(data[:len(data) // 3])
    mask_path = voc / f'SegmentationClass/{names[1]}.png'
    mask = Image.open(mask_path)
    mask.resize((mask.width // 2, mask.height // 3), Image.NEAREST).save(
        mask_path)
    mask_path = voc / f'SegmentationClass/{names[2]}.png'
    mask = Image.open(mask_path)
    labels = np.array(mask)
    labels[0, 0] = 50
    relabelled = Image.fromarray(labels, 'P')
    relabelled.putpalette(mask.getpalette())
    relabelled.save(mask_path)
    (voc / f'JPEGImages/{names[3]}.jpg').unlink()
    return voc, names


def build(config, options, split='train'):
    from mmengine.registry import DATASETS, DefaultScope

    from autonl_mmseg.engine.launch import load_config
    cfg = load_config(config, {o.split('=')[0]: o.split('=', 1)[1]
                               for o in options})
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return DATASETS.build(cfg[f'{split}_dataloader'].dataset)


def test_check_dataset_reports_each_problem(broken_voc):
    voc, names = broken_voc
    proc = run_tool(['tools/misc/check_dataset.py', SEG, '--cfg-options',
                     *seg_data_options(voc)], check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines()
            if line.startswith('train ')]
    expected = [(f'{names[0]}.jpg', 'truncated'),
                (f'{names[1]}.png', 'mask is'),
                (f'{names[2]}.png', 'label values [50]'),
                (f'{names[3]}.jpg', 'missing file')]
    assert len(rows) == len(expected), proc.stdout
    for name, words in expected:
        assert any(name in row and words in row for row in rows), \
            (name, proc.stdout)
    assert '4 problems' in proc.stdout


def test_clean_datasets_pass(toy_voc_root, toy_imagenet_root):
    for config, options in ((SEG, seg_data_options(toy_voc_root)),
                            (CLS, cls_data_options(toy_imagenet_root))):
        for split in ('train', 'val'):
            problems, checked, total = check_samples(
                build(config, options, split))
            assert problems == [] and checked == total > 0


def test_classification_label_outside_classes(toy_imagenet_root, tmp_path):
    root = tmp_path / 'imagenet'
    shutil.copytree(toy_imagenet_root, root)
    listing = root / 'meta/train.txt'
    lines = listing.read_text().splitlines()
    lines[0] = lines[0].rsplit(' ', 1)[0] + ' 9'
    listing.write_text('\n'.join(lines) + '\n')
    problems, _, _ = check_samples(build(CLS, cls_data_options(root)))
    assert len(problems) == 1 and 'label 9 outside 0..5' in problems[0][1]


def test_quick_check_reads_headers_within_budget(broken_voc):
    voc, names = broken_voc
    dataset = build(SEG, seg_data_options(voc))
    # the truncated JPEG has a valid header: only the full check sees it
    problems, checked, total = check_samples(dataset, decode=False)
    assert checked == total == len(names) and len(problems) == 2
    with pytest.raises(DataError, match='mask is'):
        check_dataset_quickly(dataset, 'train_dataloader')
    assert check_dataset_quickly(build(SEG, seg_data_options(voc), 'val'),
                                 'val_dataloader', time_budget=0)[0] <= 1


def test_train_stops_on_missing_image(toy_voc_root, tmp_path):
    voc = tmp_path / 'VOC2012'
    shutil.copytree(toy_voc_root, voc)
    missing = voc / f'JPEGImages/{ids(voc)[5]}.jpg'
    missing.unlink()
    proc = run_tool(['tools/train.py', SEG, '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *seg_data_options(voc),
                     'train_dataloader.num_workers=0',
                     'train_dataloader.persistent_workers=False'],
                    check=False)
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert str(missing) in errors[0] and 'missing file' in errors[0]
    assert 'train_dataloader' in errors[0]


def test_size_mismatch_during_training_names_the_file(broken_voc):
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope
    voc, names = broken_voc
    with DefaultScope.overwrite_default_scope('mmseg'):
        pipeline = Compose([dict(type='LoadImageFromFile'),
                            dict(type='LoadAnnotations'),
                            dict(type='CheckSegMapSize')])
    sample = dict(img_path=str(voc / f'JPEGImages/{names[4]}.jpg'),
                  seg_map_path=str(voc / f'SegmentationClass/{names[4]}.png'),
                  reduce_zero_label=False, seg_fields=[])
    assert pipeline(dict(sample))['gt_seg_map'].shape == \
        pipeline(dict(sample))['img'].shape[:2]
    bad = dict(sample,
               seg_map_path=str(voc / f'SegmentationClass/{names[1]}.png'))
    with pytest.raises(DataError) as error:
        pipeline(bad)
    assert f'{names[1]}.png: mask is' in str(error.value)
    assert f'{names[4]}.jpg' in str(error.value)


def test_tools_put_the_size_check_after_load_annotations():
    from autonl_mmseg.engine.launch import check_seg_map_sizes, load_config
    cfg = load_config(SEG)
    check_seg_map_sizes(cfg)
    check_seg_map_sizes(cfg)  # idempotent
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        types = [step['type'] for step in cfg[loader].dataset.pipeline]
        index = types.index('LoadAnnotations')
        assert types[index + 1] == 'CheckSegMapSize'
        assert types.count('CheckSegMapSize') == 1
    cls = load_config(CLS)
    check_seg_map_sizes(cls)
    assert 'CheckSegMapSize' not in str(cls.train_dataloader)
