"""Tests of the deterministic toy VOC / toy ImageNet generators.

Everything is generated into pytest temporary folders at tiny sizes. The
MMSeg / MMPretrain tests build the UNCHANGED ``PascalVOCDataset`` and
``ImageNet`` classes from the repository's dataset configs.
"""
import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
VOC_CFG = ROOT / 'configs' / '_base_' / 'datasets' / 'toy_voc.py'
IMNET_CFG = ROOT / 'configs' / '_base_' / 'datasets' / 'toy_imagenet.py'

# The VOC palette as MMSeg's PascalVOCDataset declares it (index 0..20), and
# the VOC "void" colour of index 255.
VOC_PALETTE_21 = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                  [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
                  [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0],
                  [64, 0, 128], [192, 0, 128], [64, 128, 128],
                  [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0],
                  [128, 192, 0], [0, 64, 128]]
DEFAULT_IDS = (1, 3, 7, 8, 12, 15)
DEFAULT_NAMES = ('aeroplane', 'bird', 'car', 'cat', 'dog', 'person')
N_TRAIN, N_VAL, N_AUG = 6, 3, 2
N_CLS_TRAIN, N_CLS_VAL = 3, 2


def _load_script(name):
    path = ROOT / 'tools' / 'dataset_converters' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'_test_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_toy_voc = _load_script('make_toy_voc')
make_toy_imagenet = _load_script('make_toy_imagenet')
toy_scenes = make_toy_voc.ts


def _voc_argv(out, seed=0, *extra):
    return [
        '--out', str(out), '--seed', str(seed), '--num-train', str(N_TRAIN),
        '--num-val', str(N_VAL), '--num-aug-extra', str(N_AUG), *extra
    ]


def _imnet_argv(out, seed=0, *extra):
    return [
        '--out', str(out), '--seed', str(seed), '--num-train-per-class',
        str(N_CLS_TRAIN), '--num-val-per-class', str(N_CLS_VAL), '--size',
        '64', *extra
    ]


def _digests(root):
    root = Path(root)
    return {
        p.relative_to(root).as_posix():
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def _mtimes(root):
    return {
        p: p.stat().st_mtime_ns
        for p in Path(root).rglob('*') if p.is_file()
    }


def _age_all_files(root, stamp=1_000_000_000):
    for p in Path(root).rglob('*'):
        if p.is_file():
            os.utime(p, (stamp, stamp))


@pytest.fixture(scope='module')
def voc_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('toy_voc')
    summary = make_toy_voc.main(_voc_argv(out))
    assert summary['generated']
    return out


@pytest.fixture(scope='module')
def imnet_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('toy_imagenet')
    summary = make_toy_imagenet.main(_imnet_argv(out))
    assert summary['generated']
    return out


def _read_list(path):
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip()]


# --------------------------------------------------------------------------
# generator design
# --------------------------------------------------------------------------
def test_class_design_needs_shape_and_texture():
    appearance = toy_scenes.CLASS_APPEARANCE
    assert sorted(appearance) == list(range(1, 21))
    # a bijection onto shapes x textures
    assert len(set(appearance.values())) == 20
    assert set(appearance.values()) <= {
        (s, t) for s in toy_scenes.SHAPES for t in toy_scenes.TEXTURES}
    pairs = [appearance[i] for i in DEFAULT_IDS]
    # the six default classes wear six different shapes and six different
    # textures (the diagonal of shapes x textures)
    for idx in (0, 1):
        assert len({p[idx] for p in pairs}) == len(DEFAULT_IDS)
    # background objects never wear a texture of a selected class, but may
    # have any class's shape: the shape alone does not make an object
    distractors = toy_scenes._distractor_pairs(DEFAULT_IDS)
    assert not {t for _, t in distractors} & {t for _, t in pairs}
    assert {s for s, _ in pairs} <= {s for s, _ in distractors}
    assert toy_scenes.parse_class_ids(None) == DEFAULT_IDS
    assert toy_scenes.parse_class_ids('bird,1') == (1, 3)
    with pytest.raises(ValueError):
        toy_scenes.parse_class_ids('0,3')


def test_voc_palette_matches_mmseg():
    pal = np.array(toy_scenes.voc_palette()).reshape(256, 3)
    assert pal[:21].tolist() == VOC_PALETTE_21
    assert pal[255].tolist() == [224, 224, 192]


def test_render_scene_is_pure_function_of_rng():
    img_a, lab_a = toy_scenes.render_scene(toy_scenes.make_rng(5, 0, 1))
    img_b, lab_b = toy_scenes.render_scene(toy_scenes.make_rng(5, 0, 1))
    img_c, _ = toy_scenes.render_scene(toy_scenes.make_rng(5, 0, 2))
    assert np.array_equal(img_a, img_b) and np.array_equal(lab_a, lab_b)
    assert img_a.shape[:2] != img_c.shape[:2] or not np.array_equal(
        img_a, img_c)
    assert img_a.dtype == np.uint8 and img_a.shape[2] == 3
    assert 96 <= img_a.shape[0] <= 144 and 96 <= img_a.shape[1] <= 144


# --------------------------------------------------------------------------
# toy VOC: layout and content
# --------------------------------------------------------------------------
def test_voc_layout_and_lists(voc_dir):
    root = voc_dir / 'VOCdevkit' / 'VOC2012'
    sets = root / 'ImageSets' / 'Segmentation'
    train, val, aug = (_read_list(sets / f'{s}.txt')
                       for s in ('train', 'val', 'aug'))
    assert len(train) == N_TRAIN and len(val) == N_VAL
    assert len(set(train + val)) == N_TRAIN + N_VAL
    assert aug[:N_TRAIN] == train and len(aug) == N_TRAIN + N_AUG
    assert not set(aug) & set(val)
    for name in train + val:
        assert (root / 'JPEGImages' / f'{name}.jpg').is_file()
        assert (root / 'SegmentationClass' / f'{name}.png').is_file()
        assert (root / 'SegmentationClassAug' / f'{name}.png').is_file()
    for name in aug:
        assert (root / 'JPEGImages' / f'{name}.jpg').is_file()
        assert (root / 'SegmentationClassAug' / f'{name}.png').is_file()
    n_jpg = len(list((root / 'JPEGImages').glob('*.jpg')))
    assert n_jpg == N_TRAIN + N_VAL + N_AUG
    assert (voc_dir / 'toy_manifest.json').is_file()


def _neighbourhood_differs(label, r=1):
    """Pixels whose (2r+1)^2 neighbourhood (clamped) holds another id."""
    h, w = label.shape
    pad = np.pad(label, r, mode='edge')
    out = np.zeros((h, w), bool)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= pad[dy:dy + h, dx:dx + w] != label
    return out


def test_voc_masks(voc_dir):
    root = voc_dir / 'VOCdevkit' / 'VOC2012'
    names = _read_list(root / 'ImageSets' / 'Segmentation' / 'train.txt') + \
        _read_list(root / 'ImageSets' / 'Segmentation' / 'val.txt')
    allowed = set(DEFAULT_IDS) | {0, 255}
    seen = set()
    for name in names:
        img = Image.open(root / 'JPEGImages' / f'{name}.jpg')
        assert img.format == 'JPEG' and img.mode == 'RGB'
        seg_im = Image.open(root / 'SegmentationClass' / f'{name}.png')
        assert seg_im.mode == 'P'
        pal = np.array(seg_im.getpalette()[:768]).reshape(-1, 3)
        assert pal[:21].tolist() == VOC_PALETTE_21
        assert pal[255].tolist() == [224, 224, 192]
        seg = np.array(seg_im)
        assert seg.shape == (img.height, img.width)
        ids = set(np.unique(seg).tolist())
        assert ids <= allowed, ids
        assert 255 in ids and ids - {0, 255}, ids
        seen |= ids
        # objects are big enough to be learnable, the void band is thin
        assert (seg > 0).mean() > 0.01
        assert (seg == 255).mean() < 0.15
        # SBD-style aug mask: plain ids without void, same geometry
        aug_im = Image.open(root / 'SegmentationClassAug' / f'{name}.png')
        assert aug_im.mode == 'L'
        aug = np.array(aug_im)
        assert 255 not in aug
        keep = seg != 255
        assert np.array_equal(aug[keep], seg[keep])
        # void exactly on the 1-px both-sided band around label changes
        assert np.array_equal(seg == 255, _neighbourhood_differs(aug, 1))
    assert len(seen - {0, 255}) >= 3


def test_voc_class_subset(tmp_path):
    out = tmp_path / 'sub'
    make_toy_voc.main([
        '--out', str(out), '--num-train', '3', '--num-val', '1',
        '--classes', 'bicycle,5'
    ])
    seg_dir = out / 'VOCdevkit' / 'VOC2012' / 'SegmentationClass'
    ids = set()
    for p in seg_dir.glob('*.png'):
        ids |= set(np.unique(np.array(Image.open(p))).tolist())
    assert ids - {0, 255} and ids <= {0, 2, 5, 255}


# --------------------------------------------------------------------------
# determinism and idempotency
# --------------------------------------------------------------------------
def test_voc_deterministic(voc_dir, tmp_path):
    ref = _digests(voc_dir)
    make_toy_voc.main(_voc_argv(tmp_path / 'same', 0))
    assert _digests(tmp_path / 'same') == ref
    make_toy_voc.main(_voc_argv(tmp_path / 'other', 1))
    other = _digests(tmp_path / 'other')
    assert set(other) == set(ref)
    images = [k for k in ref if k.endswith(('.jpg', '.png'))]
    assert all(other[k] != ref[k] for k in images)


def test_voc_idempotent_and_force(tmp_path, capsys):
    out = tmp_path / 'voc'
    make_toy_voc.main(_voc_argv(out))
    ref = _digests(out)
    _age_all_files(out)
    before = _mtimes(out)
    capsys.readouterr()
    summary = make_toy_voc.main(_voc_argv(out))
    assert not summary['generated']
    assert 'up to date' in capsys.readouterr().out
    assert _mtimes(out) == before
    summary = make_toy_voc.main(_voc_argv(out, 0, '--force'))
    assert summary['generated']
    after = _mtimes(out)
    assert set(after) == set(before)
    assert all(after[p] != before[p] for p in before)
    assert _digests(out) == ref
    # other parameters: regenerated, stale files of the old run removed
    summary = make_toy_voc.main([
        '--out', str(out), '--num-train', '2', '--num-val', '1'
    ])
    assert summary['generated']
    jpgs = sorted(p.name for p in (out / 'VOCdevkit' / 'VOC2012' /
                                   'JPEGImages').iterdir())
    assert jpgs == ['train_000000.jpg', 'train_000001.jpg', 'val_000000.jpg']


def test_refuses_foreign_folder(tmp_path):
    img_dir = tmp_path / 'VOCdevkit' / 'VOC2012' / 'JPEGImages'
    img_dir.mkdir(parents=True)
    (img_dir / '2007_000032.jpg').write_bytes(b'not ours')
    with pytest.raises(FileExistsError):
        make_toy_voc.main(['--out', str(tmp_path), '--num-train', '1',
                           '--num-val', '1'])
    assert (img_dir / '2007_000032.jpg').read_bytes() == b'not ours'


def test_imagenet_deterministic_and_idempotent(imnet_dir, tmp_path):
    ref = _digests(imnet_dir)
    make_toy_imagenet.main(_imnet_argv(tmp_path / 'same', 0))
    assert _digests(tmp_path / 'same') == ref
    make_toy_imagenet.main(_imnet_argv(tmp_path / 'other', 3))
    other = _digests(tmp_path / 'other')
    jpegs = [k for k in ref if k.endswith('.JPEG')]
    assert set(other) == set(ref)
    assert all(other[k] != ref[k] for k in jpegs)

    out = tmp_path / 'same'
    _age_all_files(out)
    before = _mtimes(out)
    assert not make_toy_imagenet.main(_imnet_argv(out, 0))['generated']
    assert _mtimes(out) == before
    assert make_toy_imagenet.main(_imnet_argv(out, 0, '--force'))['generated']
    after = _mtimes(out)
    assert set(after) == set(before)
    assert all(after[p] != before[p] for p in before)
    assert _digests(out) == ref


def test_imagenet_layout(imnet_dir):
    classes = _read_list(imnet_dir / 'meta' / 'classes.txt')
    assert tuple(classes) == DEFAULT_NAMES
    for split, num in (('train', N_CLS_TRAIN), ('val', N_CLS_VAL)):
        lines = _read_list(imnet_dir / 'meta' / f'{split}.txt')
        assert len(lines) == num * len(classes)
        for line in lines:
            rel, label = line.rsplit(' ', 1)
            assert rel.split('/')[0] == classes[int(label)]
            im = Image.open(imnet_dir / split / rel)
            assert im.format == 'JPEG' and im.size == (64, 64)
        folders = sorted(p.name for p in (imnet_dir / split).iterdir())
        assert folders == sorted(classes)
        n_files = len(list((imnet_dir / split).rglob('*.JPEG')))
        assert n_files == len(lines)


# --------------------------------------------------------------------------
# loading through the unchanged MMSeg / MMPretrain datasets
# --------------------------------------------------------------------------
def test_toy_voc_with_mmseg(voc_dir):
    from mmengine import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(VOC_CFG))
    assert cfg.crop_size == (96, 96)
    data_root = str(voc_dir / 'VOCdevkit' / 'VOC2012')

    train_cfg = cfg.train_dataloader.dataset.copy()
    assert train_cfg.type == 'PascalVOCDataset'
    assert cfg.train_dataloader.batch_size == 8
    train_cfg.data_root = data_root
    train_set = DATASETS.build(train_cfg)
    assert type(train_set).__name__ == 'PascalVOCDataset'
    assert len(train_set) == N_TRAIN
    for idx in range(len(train_set)):
        item = train_set[idx]
        inputs, sample = item['inputs'], item['data_samples']
        assert inputs.ndim == 3 and inputs.shape[0] == 3
        assert inputs.shape[1] <= 96 and inputs.shape[2] <= 96
        gt = sample.gt_sem_seg.data
        assert tuple(gt.shape) == (1, ) + tuple(inputs.shape[1:])
        assert set(gt.unique().tolist()) <= set(DEFAULT_IDS) | {0, 255}

    # the val pipeline keeps the label map at full size: it must equal the
    # palette indices of the PNG (not colours, not remapped ids)
    val_cfg = cfg.val_dataloader.dataset.copy()
    val_cfg.data_root = data_root
    val_set = DATASETS.build(val_cfg)
    assert len(val_set) == N_VAL
    for idx in range(len(val_set)):
        item = val_set[idx]
        png = np.array(Image.open(val_set.get_data_info(idx)['seg_map_path']))
        gt = item['data_samples'].gt_sem_seg.data[0].numpy()
        assert np.array_equal(gt, png)
        # the long side fits into the configured 144 px
        assert max(item['inputs'].shape[1:]) == 144

    # the aug annotation folder works with the same dataset class
    aug_cfg = train_cfg.copy()
    aug_cfg.data_prefix = dict(
        img_path='JPEGImages', seg_map_path='SegmentationClassAug')
    aug_cfg.ann_file = 'ImageSets/Segmentation/aug.txt'
    aug_set = DATASETS.build(aug_cfg)
    assert len(aug_set) == N_TRAIN + N_AUG
    gt = aug_set[N_TRAIN + N_AUG - 1]['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) <= set(DEFAULT_IDS) | {0, 255}


def test_toy_imagenet_with_mmpretrain(imnet_dir):
    from mmengine import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    from mmpretrain.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(IMNET_CFG))
    assert cfg.num_classes == len(DEFAULT_NAMES)
    assert cfg.data_preprocessor.num_classes == cfg.num_classes
    assert tuple(cfg.val_evaluator.topk) == (1, )
    for split, num in (('train', N_CLS_TRAIN), ('val', N_CLS_VAL)):
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        ds_cfg.data_root = str(imnet_dir)
        dataset = DATASETS.build(ds_cfg)
        assert type(dataset).__name__ == 'ImageNet'
        assert tuple(dataset.CLASSES) == DEFAULT_NAMES
        assert len(dataset) == num * len(DEFAULT_NAMES)
        labels = []
        for idx in range(len(dataset)):
            info = dataset.get_data_info(idx)
            folder = Path(info['img_path']).parent.name
            assert Path(info['img_path']).parent.parent.name == split
            assert DEFAULT_NAMES[info['gt_label']] == folder
            item = dataset[idx]
            assert tuple(item['inputs'].shape) == (3, 56, 56)
            assert int(item['data_samples'].gt_label) == info['gt_label']
            labels.append(info['gt_label'])
        assert sorted(set(labels)) == list(range(len(DEFAULT_NAMES)))
