"""Deterministic synthetic scenes for smoke-scale AutoNL experiments.

The generator draws textured objects on cluttered, noisy backgrounds. A class
is defined by its shape and its texture, never by its colour:

* the 20 Pascal VOC foreground ids map to distinct (shape, texture) pairs
  (:data:`CLASS_APPEARANCE`); the default subset ``(1, 3, 7, 8, 12, 15)``
  gives each class a shape and a texture of its own, so both cues name it;
* background objects (*distractors*, labelled 0) wear a texture that no
  selected class wears (plain or noisy fills by default), on any shape,
  including the classes' shapes;
* colours are random per object (two colours per texture, at least
  ``_TEXTURE_MIN_LUMA`` apart in luma, and a mean luma at least
  ``_OUTLINE_MIN_LUMA`` away from the background behind the object, so that
  texture and outline are visible), so colour carries no class information:
  ``tools/analysis_tools/shortcut_baselines.py`` measures that a linear model
  on colour histograms or raw pixels stays near chance.

Sizes, positions, aspect ratios and rotations are random; objects may overlap
(later ones occlude earlier ones) and may be cut by the image border. The
classification images show one large, centred object on a smooth background;
the segmentation scenes add clutter (flat patches, strokes, colour noise),
distractors and occlusion.

Two dataset layouts are written from these scenes:

* :func:`generate_toy_voc`: the Pascal VOC 2012 segmentation layout that
  MMSegmentation's ``PascalVOCDataset`` reads (palette PNGs with a 255 "void"
  band on object borders, plus an SBD-style ``SegmentationClassAug`` folder
  and ``aug.txt``);
* :func:`generate_toy_imagenet`: the ImageNet classification layout that
  MMPretrain's ``ImageNet`` / ``CustomDataset`` reads.

Everything is a pure function of ``(seed, split, index)``: each image has its
own ``numpy.random.Generator(PCG64(SeedSequence(...)))``, JPEGs are written at
a fixed quality and PNGs carry no timestamp, so the same arguments give
byte-identical files. Only numpy, OpenCV and Pillow are used.
"""
import hashlib
import io
import json
import math
import re
import shutil
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

__all__ = [
    'VOC_CLASSES', 'DEFAULT_CLASS_IDS', 'SHAPES', 'TEXTURES',
    'CLASS_APPEARANCE', 'GENERATOR_VERSION', 'voc_palette', 'make_rng',
    'render_scene', 'render_object_crop', 'add_void_border',
    'encode_jpeg', 'encode_label_png', 'generate_toy_voc',
    'generate_toy_imagenet', 'parse_class_ids', 'file_digests'
]

#: Bumped whenever the pixels produced for a given seed change; it is part of
#: the manifest, so an older dataset on disk is regenerated automatically.
GENERATOR_VERSION = 3  # v2: learnable design; v3: fewer, larger scene objects (docs/results.md)

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
               'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
               'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')

#: aeroplane, bird, car, cat, dog, person.
DEFAULT_CLASS_IDS = (1, 3, 7, 8, 12, 15)

SHAPES = ('triangle', 'rectangle', 'ellipse', 'star', 'cross', 'hexagon')
TEXTURES = ('stripes', 'dots', 'checker', 'rings', 'grid', 'zigzag')
#: Fills / outlines used only by distractors (never by a class).
DISTRACTOR_SHAPES = ('blob', )
DISTRACTOR_TEXTURES = ('plain', 'noise')

#: VOC id -> (shape, texture), all pairs distinct. The default classes
#: (1, 3, 7, 8, 12, 15) sit on the diagonal: one shape and one texture each.
CLASS_APPEARANCE: Dict[int, Tuple[str, str]] = {
    1: ('triangle', 'stripes'),
    2: ('triangle', 'dots'),
    3: ('star', 'dots'),
    4: ('triangle', 'checker'),
    5: ('rectangle', 'stripes'),
    6: ('rectangle', 'dots'),
    7: ('rectangle', 'checker'),
    8: ('cross', 'rings'),
    9: ('ellipse', 'stripes'),
    10: ('ellipse', 'dots'),
    11: ('star', 'stripes'),
    12: ('ellipse', 'grid'),
    13: ('star', 'checker'),
    14: ('cross', 'stripes'),
    15: ('hexagon', 'zigzag'),
    16: ('cross', 'dots'),
    17: ('hexagon', 'stripes'),
    18: ('hexagon', 'dots'),
    19: ('ellipse', 'checker'),
    20: ('star', 'rings'),
}

IGNORE_INDEX = 255
_SPLIT_CODES = {'train': 0, 'val': 1, 'aug': 2}
_CLS_SPLIT_CODES = {'train': 10, 'val': 11}
_JPEG_QUALITY = 90
# Luma contrast of the two colours of an object's texture.
_TEXTURE_MIN_LUMA = 80.
# Luma contrast of an object's mean colour to the background behind it.
_OUTLINE_MIN_LUMA = 50.
_VOC_NAME_RE = re.compile(r'^(train|val|aug)_\d{6}\.(jpg|png)$')


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def voc_palette() -> List[int]:
    """The 256-entry Pascal VOC colour map as a flat ``[r, g, b, ...]`` list.

    Entry ``i`` spreads the bits of ``i`` over the high bits of the three
    channels (bit 0 -> red, bit 1 -> green, bit 2 -> blue, next triple one bit
    lower). Index 255 is the "void" colour (224, 224, 192).
    """
    flat = []
    for idx in range(256):
        rgb = [0, 0, 0]
        val = idx
        for shift in range(7, -1, -1):
            for ch in range(3):
                rgb[ch] |= ((val >> ch) & 1) << shift
            val >>= 3
        flat.extend(rgb)
    return flat


def make_rng(*keys: int) -> np.random.Generator:
    """A generator that depends only on the integer ``keys``."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([int(k) for k in keys])))


def parse_class_ids(value) -> Tuple[int, ...]:
    """Parse ``'1,3,7'``, ``'aeroplane,bird'`` or a sequence to sorted ids."""
    if value is None:
        return tuple(DEFAULT_CLASS_IDS)
    if isinstance(value, str):
        value = [v for v in re.split(r'[,\s]+', value) if v]
    ids = []
    for v in value:
        if isinstance(v, str) and not v.isdigit():
            if v not in VOC_CLASSES[1:]:
                raise ValueError(f'unknown VOC class name {v!r}')
            ids.append(VOC_CLASSES.index(v))
        else:
            ids.append(int(v))
    ids = sorted(set(ids))
    if not ids or any(i < 1 or i > 20 for i in ids):
        raise ValueError(f'class ids must be a non-empty subset of 1..20, '
                         f'got {ids}')
    return tuple(ids)


def _distractor_pairs(class_ids: Sequence[int]) -> List[Tuple[str, str]]:
    """(shape, texture) pairs of background objects: any shape, including
    the classes' shapes, with a texture that no selected class wears."""
    class_textures = {CLASS_APPEARANCE[i][1] for i in class_ids}
    shapes = SHAPES + DISTRACTOR_SHAPES
    textures = [t for t in TEXTURES + DISTRACTOR_TEXTURES
                if t not in class_textures]
    return [(s, t) for s in shapes for t in textures]


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _random_colour_pair(rng, min_luma: float = 0.
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Two random RGB colours with a clearly visible contrast: at least 150
    apart (sum over RGB) and, with ``min_luma``, that far apart in luma, so
    that a pattern drawn with them is visible in grey too. Hues stay random:
    colour carries no class information."""
    c1 = rng.integers(0, 256, 3).astype(np.float32)
    for _ in range(64):
        c2 = rng.integers(0, 256, 3).astype(np.float32)
        if (np.abs(c1 - c2).sum() >= 150
                and abs(float(_LUMA @ (c1 - c2))) >= min_luma):
            break
    return c1, c2


# --------------------------------------------------------------------------
# geometry and textures
# --------------------------------------------------------------------------
def _unit_polygon(shape: str, rng) -> np.ndarray:
    """Outline of ``shape`` in unit coordinates (roughly inside [-1, 1]^2)."""
    if shape == 'triangle':
        ang = np.deg2rad([90., 210., 330.]) + rng.uniform(-0.12, 0.12, 3)
        pts = np.stack([np.cos(ang), np.sin(ang)], 1) * 1.35
    elif shape == 'rectangle':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * .8
    elif shape == 'ellipse':
        ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        pts = np.stack([np.cos(ang), np.sin(ang)], 1)
    elif shape == 'star':
        ang = np.linspace(0, 2 * np.pi, 10, endpoint=False) + np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.3, rng.uniform(0.5, 0.58))
        pts = np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
    elif shape == 'cross':
        a = rng.uniform(0.3, 0.38)
        pts = np.array([[-a, -1], [a, -1], [a, -a], [1, -a], [1, a], [a, a],
                        [a, 1], [-a, 1], [-a, a], [-1, a], [-1, -a],
                        [-a, -a]], np.float64)
    elif shape == 'hexagon':
        ang = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        pts = np.stack([np.cos(ang), np.sin(ang)], 1) * 1.05
    elif shape == 'blob':
        ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        rad = np.ones_like(ang)
        for k in (2, 3, 4):
            rad += rng.uniform(0.08, 0.2) * np.sin(k * ang +
                                                   rng.uniform(0, 2 * np.pi))
        pts = np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1) * 0.9
    else:
        raise ValueError(f'unknown shape {shape!r}')
    return pts


def _place_polygon(pts, cx, cy, radius, aspect, theta):
    # element-wise (no BLAS matmul), so the vertices are exactly reproducible
    sx, sy = radius * math.sqrt(aspect), radius / math.sqrt(aspect)
    px, py = pts[:, 0] * sx, pts[:, 1] * sy
    c, s = math.cos(theta), math.sin(theta)
    return np.stack([px * c - py * s + cx, px * s + py * c + cy], 1)


def _texture(kind: str, rng, xs, ys, cx, cy, scale=1.0) -> np.ndarray:
    """Pattern in [0, 1] evaluated at absolute pixel coordinates xs, ys."""
    theta = rng.uniform(0, np.pi)
    u = xs * math.cos(theta) + ys * math.sin(theta)
    v = -xs * math.sin(theta) + ys * math.cos(theta)
    if kind == 'stripes':
        period = rng.uniform(5., 9.) * scale
        wave = np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
        return np.clip(0.5 + 1.5 * wave, 0, 1)
    if kind == 'dots':
        step = rng.uniform(6.5, 9.5) * scale
        rad = step * rng.uniform(0.22, 0.3)
        du = np.mod(u / step + rng.uniform(0, 1), 1.) - .5
        dv = np.mod(v / step + rng.uniform(0, 1), 1.) - .5
        dist = np.sqrt(du * du + dv * dv) * step
        return np.clip(rad + 0.5 - dist, 0, 1)
    if kind == 'checker':
        cell = rng.uniform(4., 7.) * scale
        iu = np.floor(u / cell + rng.uniform(0, 1))
        iv = np.floor(v / cell + rng.uniform(0, 1))
        return np.mod(iu + iv, 2.)
    if kind == 'rings':
        period = rng.uniform(5., 9.) * scale
        ox, oy = rng.uniform(-2, 2, 2) * scale
        dist = np.sqrt((xs - cx - ox)**2 + (ys - cy - oy)**2)
        wave = np.sin(2 * np.pi * dist / period + rng.uniform(0, 2 * np.pi))
        return np.clip(0.5 + 1.5 * wave, 0, 1)
    if kind == 'grid':  # thin lines along both axes
        period = rng.uniform(6., 9.) * scale
        width = rng.uniform(0.18, 0.26)
        fu = np.abs(np.mod(u / period + rng.uniform(0, 1), 1.) - .5)
        fv = np.abs(np.mod(v / period + rng.uniform(0, 1), 1.) - .5)
        return ((fu < width) | (fv < width)).astype(np.float32)
    if kind == 'zigzag':  # stripes bent into chevrons
        period = rng.uniform(5., 8.) * scale
        bend = rng.uniform(7., 11.) * scale
        tri = np.abs(np.mod(v / bend, 1.) - .5) * bend
        wave = np.sin(2 * np.pi * (u + 1.2 * tri) / period +
                      rng.uniform(0, 2 * np.pi))
        return np.clip(0.5 + 1.5 * wave, 0, 1)
    if kind == 'plain':
        return np.full_like(xs, rng.uniform(0, 1))
    if kind == 'noise':
        return rng.uniform(0, 1, xs.shape).astype(np.float32)
    raise ValueError(f'unknown texture {kind!r}')


def _background(rng, h: int, w: int, clutter: bool = True) -> np.ndarray:
    """Float32 RGB background in [0, 255]: a smooth two-colour field, and
    with ``clutter`` colour noise, flat patches and strokes on top."""
    ca, cb = _random_colour_pair(rng)
    gh, gw = rng.integers(2, 6 if clutter else 4, 2)
    field = cv2.resize(
        rng.uniform(0, 1, (gh, gw)).astype(np.float32), (w, h),
        interpolation=cv2.INTER_CUBIC)
    field = np.clip(field, 0, 1)[..., None]
    img = ca * (1 - field) + cb * field
    if not clutter:
        return img
    # mid-frequency colour noise
    small = rng.normal(0, 1, (max(h // 6, 2), max(w // 6, 2), 3))
    img += cv2.resize(small.astype(np.float32), (w, h),
                      interpolation=cv2.INTER_LINEAR) * rng.uniform(6, 22)
    # flat-coloured irregular patches and strokes (edges that are no object)
    for _ in range(int(rng.integers(0, 4))):
        pts = _place_polygon(
            _unit_polygon('blob', rng), rng.uniform(0, w), rng.uniform(0, h),
            rng.uniform(0.1, 0.35) * min(h, w), rng.uniform(0.5, 2.),
            rng.uniform(0, 2 * np.pi))
        col = rng.integers(0, 256, 3).astype(np.float32)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255,
                     cv2.LINE_AA, shift=4)
        alpha = mask.astype(np.float32)[..., None] / 255. * rng.uniform(.4, 1)
        img = img * (1 - alpha) + col * alpha
    for _ in range(int(rng.integers(0, 7))):
        npts = int(rng.integers(2, 5))
        pts = np.stack([rng.uniform(-10, w + 10, npts),
                        rng.uniform(-10, h + 10, npts)], 1)
        col = tuple(float(c) for c in rng.integers(0, 256, 3))
        cv2.polylines(img, [np.round(pts * 16).astype(np.int32)], False, col,
                      int(rng.integers(1, 3)), cv2.LINE_AA, shift=4)
    return img


def _draw_object(img, label, rng, shape, texture, cx, cy, radius, value,
                 texture_scale=1.0):
    """Composite one object into ``img`` (float RGB) and ``label`` (uint8)."""
    h, w = label.shape
    pts = _place_polygon(
        _unit_polygon(shape, rng), cx, cy, radius, rng.uniform(0.75, 1.33),
        rng.uniform(0, 2 * np.pi))
    ipts = np.round(pts * 16).astype(np.int32)
    x0 = int(max(math.floor(pts[:, 0].min()) - 2, 0))
    y0 = int(max(math.floor(pts[:, 1].min()) - 2, 0))
    x1 = int(min(math.ceil(pts[:, 0].max()) + 3, w))
    y1 = int(min(math.ceil(pts[:, 1].max()) + 3, h))
    # The outline must be visible: the texture's mean luma differs from the
    # background's under the object (a shape is half of every class).
    bg_luma = (float(_LUMA @ img[y0:y1, x0:x1].reshape(-1, 3).mean(0))
               if x1 > x0 and y1 > y0 else 128.)
    for _ in range(64):
        c1, c2 = _random_colour_pair(rng, min_luma=_TEXTURE_MIN_LUMA)
        if abs(float(_LUMA @ (c1 + c2)) / 2 - bg_luma) >= _OUTLINE_MIN_LUMA:
            break
    # always consume the same random numbers, even when fully off-image
    tex_rng = make_rng(*rng.integers(0, 2**31, 2))
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    pattern = _texture(texture, tex_rng, xs, ys, cx, cy, texture_scale)
    shade = 1 + tex_rng.uniform(-0.25, 0.25) * (xs - cx) / max(radius, 1.)
    fill = (c1 * (1 - pattern[..., None]) + c2 * pattern[..., None])
    fill = fill * shade[..., None]
    soft = np.zeros((h, w), np.uint8)
    cv2.fillPoly(soft, [ipts], 255, cv2.LINE_AA, shift=4)
    hard = np.zeros((h, w), np.uint8)
    cv2.fillPoly(hard, [ipts], 1, cv2.LINE_8, shift=4)
    alpha = soft[y0:y1, x0:x1].astype(np.float32)[..., None] / 255.
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - alpha) + fill * alpha
    label[hard > 0] = value


def _finish(img, rng) -> np.ndarray:
    """Blur / sensor noise, then quantise to uint8 RGB."""
    if rng.uniform() < 0.3:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.5, 1.0))
    img = img + rng.normal(0, rng.uniform(2., 8.), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------
# scenes
# --------------------------------------------------------------------------
#: Scene composition: P(1, 2, ... objects), P(0, 1, ... distractors), object
#: radius as a fraction of the short side, and background clutter.
SCENE_OBJECTS_P = (.5, .5)
SCENE_DISTRACTORS_P = (.6, .4)
SCENE_RADIUS = (0.22, 0.34)
SCENE_CLUTTER = True


def render_scene(rng: np.random.Generator,
                 class_ids: Sequence[int] = DEFAULT_CLASS_IDS,
                 size_range: Tuple[int, int] = (96, 144),
                 max_tries: int = 8) -> Tuple[np.ndarray, np.ndarray]:
    """Render one segmentation scene.

    Returns:
        tuple: ``(image, label)``: an ``(H, W, 3)`` uint8 RGB image and an
        ``(H, W)`` uint8 map of VOC ids (0 = background, no void band).
        H and W are drawn independently from ``size_range`` (inclusive).
    """
    class_ids = parse_class_ids(class_ids)
    distractors = _distractor_pairs(class_ids)
    h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, 2))
    short = min(h, w)
    for _ in range(max_tries):
        img = _background(rng, h, w, clutter=SCENE_CLUTTER)
        label = np.zeros((h, w), np.uint8)
        n_obj = 1 + int(rng.choice(len(SCENE_OBJECTS_P), p=SCENE_OBJECTS_P))
        n_dis = int(rng.choice(len(SCENE_DISTRACTORS_P),
                               p=SCENE_DISTRACTORS_P))
        kinds = [1] * n_obj + [0] * n_dis
        for k in rng.permutation(len(kinds)):
            radius = rng.uniform(*SCENE_RADIUS) * short
            cx = rng.uniform(0.3 * radius, w - 0.3 * radius)
            cy = rng.uniform(0.3 * radius, h - 0.3 * radius)
            if kinds[k]:
                cid = int(rng.choice(class_ids))
                shape, texture = CLASS_APPEARANCE[cid]
            else:
                cid = 0
                shape, texture = distractors[int(
                    rng.integers(len(distractors)))]
            _draw_object(img, label, rng, shape, texture, cx, cy, radius, cid)
        if (label > 0).sum() >= 0.01 * h * w:
            break
    return _finish(img, rng), label


def render_object_crop(rng: np.random.Generator,
                       class_id: int,
                       size: int = 64,
                       class_ids: Sequence[int] = DEFAULT_CLASS_IDS
                       ) -> np.ndarray:
    """Render a square classification image of one object of ``class_id``.

    The object is large (radius 0.32-0.42 of the side), roughly centred and
    drawn over a smooth two-colour background without clutter or
    distractors: the ImageNet-like pretraining set teaches what the classes
    look like (shape x texture under random colours), and the segmentation
    scenes add clutter, distractors and occlusion. Textures are scaled with
    ``size / 64``. ``class_ids`` is accepted for symmetry with
    :func:`render_scene`.
    """
    parse_class_ids(class_ids)
    img = _background(rng, size, size, clutter=False)
    label = np.zeros((size, size), np.uint8)
    shape, texture = CLASS_APPEARANCE[int(class_id)]
    cx, cy = size / 2 + rng.uniform(-0.1, 0.1, 2) * size
    _draw_object(img, label, rng, shape, texture, cx, cy,
                 rng.uniform(0.32, 0.42) * size, int(class_id), size / 64.)
    return _finish(img, rng)


def add_void_border(label: np.ndarray, radius: int = 1) -> np.ndarray:
    """Mark pixels within ``radius`` px of a label change as 255 (VOC void).

    Like the hand-drawn void outlines of Pascal VOC, the band sits on both
    sides of every boundary between two different ids (object/background and
    object/object); its width is ``2 * radius`` px.
    """
    if radius <= 0:
        return label.copy()
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    hi = cv2.dilate(label, kernel, borderType=cv2.BORDER_REPLICATE)
    lo = cv2.erode(label, kernel, borderType=cv2.BORDER_REPLICATE)
    out = label.copy()
    out[hi != lo] = IGNORE_INDEX
    return out


def encode_jpeg(img_rgb: np.ndarray, quality: int = _JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img_rgb).save(buf, format='JPEG', quality=quality)
    return buf.getvalue()


def encode_label_png(label: np.ndarray, palette: bool = True) -> bytes:
    """PNG bytes of a label map: 'P' mode with the VOC palette, or 'L'."""
    im = Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8))
    if palette:
        im.putpalette(voc_palette())  # turns the 'L' image into 'P'
    buf = io.BytesIO()
    im.save(buf, format='PNG', compress_level=6)
    return buf.getvalue()


# --------------------------------------------------------------------------
# dataset writers
# --------------------------------------------------------------------------
MANIFEST_NAME = 'toy_manifest.json'


def _read_manifest(out: Path) -> Optional[dict]:
    try:
        return json.loads((out / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST_NAME).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + '\n')


def _check_target(out: Path, params: dict, force: bool,
                  probe: Path) -> Tuple[bool, Optional[dict]]:
    """Decide whether to (re)generate. Returns (generate, old_manifest)."""
    old = _read_manifest(out)
    if old is not None and old.get('params') == params and not force \
            and all((out / p).is_file() for p in old.get('check_files', [])):
        return False, old
    if old is None and probe.is_dir() and any(probe.iterdir()) and not force:
        raise FileExistsError(
            f'{probe} is not empty and has no {MANIFEST_NAME} (not a toy '
            f'dataset?); pass --force to write into it anyway')
    return True, old


def generate_toy_voc(out: str = 'data/toy_voc',
                     seed: int = 0,
                     num_train: int = 1000,
                     num_val: int = 200,
                     num_aug_extra: int = 0,
                     class_ids: Sequence[int] = DEFAULT_CLASS_IDS,
                     void_radius: int = 1,
                     force: bool = False) -> dict:
    """Write a toy Pascal VOC 2012 segmentation dataset under ``out``.

    Layout (``R = out/VOCdevkit/VOC2012``)::

        R/JPEGImages/{train,val,aug}_NNNNNN.jpg
        R/SegmentationClass/{train,val}_NNNNNN.png     'P' mode, VOC palette,
                                                       255 band on borders
        R/SegmentationClassAug/*.png                   'L' mode, no void band
        R/ImageSets/Segmentation/{train,val,aug}.txt   (aug = train + extra)
        out/toy_manifest.json

    Returns a summary dict (``generated`` is False when an up-to-date
    dataset with the same parameters was found and left untouched).
    """
    out = Path(out)
    class_ids = parse_class_ids(class_ids)
    params = dict(
        kind='toy_voc', version=GENERATOR_VERSION, seed=int(seed),
        num_train=int(num_train), num_val=int(num_val),
        num_aug_extra=int(num_aug_extra), class_ids=list(class_ids),
        void_radius=int(void_radius))
    root = out / 'VOCdevkit' / 'VOC2012'
    dirs = dict(
        img=root / 'JPEGImages', seg=root / 'SegmentationClass',
        aug=root / 'SegmentationClassAug',
        sets=root / 'ImageSets' / 'Segmentation')
    generate, old = _check_target(out, params, force, dirs['img'])
    summary = dict(params, out=str(out), root=str(root), generated=generate,
                   classes=[VOC_CLASSES[i] for i in class_ids])
    if not generate:
        return summary

    t0 = time.time()
    if old is not None:  # our own earlier output: drop stale files
        (out / MANIFEST_NAME).unlink()
        for d in (dirs['img'], dirs['seg'], dirs['aug']):
            if d.is_dir():
                for f in d.iterdir():
                    if _VOC_NAME_RE.match(f.name):
                        f.unlink()
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)

    names = {'train': [], 'val': [], 'aug': []}
    pixel_hist = np.zeros(256, np.int64)
    counts = dict(train=num_train, val=num_val, aug=num_aug_extra)
    for split, num in counts.items():
        for idx in range(num):
            name = f'{split}_{idx:06d}'
            rng = make_rng(seed, _SPLIT_CODES[split], idx)
            img, label = render_scene(rng, class_ids)
            (dirs['img'] / f'{name}.jpg').write_bytes(encode_jpeg(img))
            (dirs['aug'] / f'{name}.png').write_bytes(
                encode_label_png(label, palette=False))
            if split != 'aug':
                seg = add_void_border(label, void_radius)
                pixel_hist += np.bincount(seg.ravel(), minlength=256)
                (dirs['seg'] / f'{name}.png').write_bytes(
                    encode_label_png(seg, palette=True))
            names[split].append(name)
    sets = dict(
        train=names['train'], val=names['val'],
        aug=names['train'] + names['aug'])
    for split, lst in sets.items():
        (dirs['sets'] / f'{split}.txt').write_text(
            ''.join(n + '\n' for n in lst))
    check = [f'VOCdevkit/VOC2012/ImageSets/Segmentation/{s}.txt'
             for s in sets]
    for n in (names['train'][-1:] + names['val'][-1:]):
        check += [f'VOCdevkit/VOC2012/JPEGImages/{n}.jpg',
                  f'VOCdevkit/VOC2012/SegmentationClass/{n}.png']
    total = pixel_hist.sum()
    stats = {
        VOC_CLASSES[i] if i < 21 else 'void':
        round(float(pixel_hist[i]) / max(total, 1), 4)
        for i in np.nonzero(pixel_hist)[0]
    }
    _write_manifest(
        out, dict(params=params, check_files=check,
                  classes=summary['classes'], pixel_fraction=stats))
    summary.update(seconds=round(time.time() - t0, 2), pixel_fraction=stats)
    return summary


def generate_toy_imagenet(out: str = 'data/toy_imagenet',
                          seed: int = 0,
                          num_train_per_class: int = 500,
                          num_val_per_class: int = 100,
                          size: int = 64,
                          class_ids: Sequence[int] = DEFAULT_CLASS_IDS,
                          force: bool = False) -> dict:
    """Write a toy ImageNet-style classification dataset under ``out``.

    Layout::

        out/{train,val}/<class_name>/<class_name>_NNNNN.JPEG
        out/meta/{train,val}.txt     "<class_name>/<file>.JPEG <label>" lines,
                                     relative to the split folder (as the
                                     ImageNet meta files of MMPretrain)
        out/meta/classes.txt         one class name per line, label order
        out/toy_manifest.json

    Labels are ``0..K-1`` in increasing VOC id order, which is also the
    alphabetical order of the names (so a folder scan agrees with meta/).
    """
    out = Path(out)
    class_ids = parse_class_ids(class_ids)
    classes = [VOC_CLASSES[i] for i in class_ids]
    assert classes == sorted(classes)
    params = dict(
        kind='toy_imagenet', version=GENERATOR_VERSION, seed=int(seed),
        num_train_per_class=int(num_train_per_class),
        num_val_per_class=int(num_val_per_class), size=int(size),
        class_ids=list(class_ids))
    generate, old = _check_target(out, params, force, out / 'train')
    summary = dict(params, out=str(out), generated=generate, classes=classes)
    if not generate:
        return summary

    t0 = time.time()
    if old is not None:  # our own earlier output: start from scratch
        (out / MANIFEST_NAME).unlink()
        for sub in ('train', 'val', 'meta'):
            if (out / sub).is_dir():
                shutil.rmtree(out / sub)
    (out / 'meta').mkdir(parents=True, exist_ok=True)
    counts = dict(train=num_train_per_class, val=num_val_per_class)
    check = []
    for split, num in counts.items():
        lines = []
        for label, (cid, cname) in enumerate(zip(class_ids, classes)):
            cdir = out / split / cname
            cdir.mkdir(parents=True, exist_ok=True)
            for idx in range(num):
                rng = make_rng(seed, _CLS_SPLIT_CODES[split], cid, idx)
                img = render_object_crop(rng, cid, size, class_ids)
                fname = f'{cname}_{idx:05d}.JPEG'
                (cdir / fname).write_bytes(encode_jpeg(img))
                lines.append(f'{cname}/{fname} {label}\n')
        (out / 'meta' / f'{split}.txt').write_text(''.join(lines))
        check.append(f'meta/{split}.txt')
        if lines:
            check.append(f'{split}/' + lines[-1].split(' ')[0])
    (out / 'meta' / 'classes.txt').write_text(''.join(c + '\n'
                                                      for c in classes))
    check.append('meta/classes.txt')
    _write_manifest(out, dict(params=params, check_files=check,
                              classes=classes))
    summary.update(seconds=round(time.time() - t0, 2))
    return summary


def file_digests(root: str) -> Dict[str, str]:
    """sha1 of every file under ``root``, keyed by relative posix path."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix():
        hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*')) if p.is_file()
    }
