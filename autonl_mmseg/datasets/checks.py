"""Data that is checked: every file a dataset lists exists, decodes, and its
segmentation map fits its image.

Three uses, one set of checks:

- ``tools/misc/check_dataset.py CONFIG`` decodes every image and mask of
  the config's datasets (:func:`check_samples` with ``decode=True``);
- ``tools/train.py`` checks existence and sizes (read from the file
  headers, no decoding) on start-up, within a few seconds
  (:func:`check_dataset_quickly`);
- the ``CheckSegMapSize`` transform, put after ``LoadAnnotations`` by our
  tools, stops training on a mask whose size differs from its image's
  (MMSeg's resize and crop transforms would otherwise process both without
  complaint and train on misaligned labels).

Problems are ``(file, problem)`` pairs; :class:`DataError` names the file.
"""
import os.path as osp
import time
from contextlib import contextmanager

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

# How long tools/train.py may spend on its start-up check.
STARTUP_CHECK_SECONDS = 3.0


class DataError(Exception):
    """A dataset file that is missing, unreadable or inconsistent; the
    message names the file."""


def leaf_datasets(dataset):
    """The datasets inside MMEngine's dataset wrappers (Concat, Repeat,
    ClassBalanced), or the dataset itself."""
    if hasattr(dataset, 'datasets'):
        return [leaf for d in dataset.datasets for leaf in leaf_datasets(d)]
    if hasattr(dataset, 'dataset'):
        return leaf_datasets(dataset.dataset)
    return [dataset]


def _samples(dataset):
    """The dataset's ``data_list`` (MMEngine serialises it to bytes by
    default, so it is read back item by item)."""
    if hasattr(dataset, 'full_init'):
        dataset.full_init()  # a lazily initialised dataset lists nothing yet
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def _label_limits(dataset):
    """(number of classes, ignore index, reduce_zero_label) of a dataset."""
    classes = dataset.metainfo.get('classes') or ()
    return (len(classes), getattr(dataset, 'ignore_index', 255),
            getattr(dataset, 'reduce_zero_label', False))


@contextmanager
def _strict_pillow():
    """Make Pillow refuse truncated images (OpenCV, which MMCV decodes with,
    fills the missing rows with grey and only prints a warning)."""
    from PIL import ImageFile
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open(path, decode):
    """(image or None, problem or None): header only, or fully decoded."""
    from PIL import Image
    if not osp.isfile(path):
        return None, 'missing file'
    try:
        image = Image.open(path)
        if decode:
            image.load()
        return image, None
    except Exception as e:  # noqa: B902  (any decoding failure)
        what = 'truncated or undecodable' if decode else 'unreadable'
        return None, f'{what} image: {" ".join(str(e).split())}'


def _bad_labels(mask, num_classes, ignore_index, reduce_zero_label,
                label_map):
    labels = np.unique(np.asarray(mask))
    if label_map:
        labels = np.unique([label_map.get(int(v), int(v)) for v in labels])
    valid = (labels < num_classes + int(reduce_zero_label)) | \
        (labels == ignore_index)
    return [int(v) for v in labels[~valid]]


def check_samples(dataset, decode=True, time_budget=None):
    """Check the files of every sample a dataset lists.

    Args:
        dataset: an MMSeg or MMPretrain dataset (or a dataset wrapper).
        decode (bool): decode images and masks fully (truncated files,
            label values); False reads sizes from the headers only.
        time_budget (float, optional): stop after this many seconds.

    Returns:
        tuple[list[tuple[str, str]], int, int]: the problems as
        ``(file, problem)``, the number of samples checked and listed.
    """
    start = time.monotonic()
    problems, checked, total = [], 0, 0
    with _strict_pillow():
        for leaf in leaf_datasets(dataset):
            samples = _samples(leaf)
            total += len(samples)
            num_classes, ignore_index, reduce_zero = _label_limits(leaf)
            for sample in samples:
                if time_budget is not None and \
                        time.monotonic() - start > time_budget:
                    return problems, checked, total
                checked += 1
                problems += _check_sample(sample, decode, num_classes,
                                          ignore_index, reduce_zero)
    return problems, checked, total


def _check_sample(sample, decode, num_classes, ignore_index, reduce_zero):
    problems = []
    img_path = sample.get('img_path')
    image = None
    if img_path is not None:
        image, problem = _open(img_path, decode)
        if problem:
            problems.append((img_path, problem))
    label = sample.get('gt_label')
    if label is not None and num_classes and \
            not all(0 <= int(v) < num_classes for v in np.atleast_1d(label)):
        problems.append((img_path, f'label {label} outside 0..'
                         f'{num_classes - 1}'))
    seg_path = sample.get('seg_map_path')
    if seg_path is None:
        return problems
    mask, problem = _open(seg_path, decode)
    if problem:
        problems.append((seg_path, problem))
        return problems
    if image is not None and mask.size != image.size:
        problems.append((seg_path, 'mask is {}x{}, its image {} is {}x{}'
                         .format(*mask.size, osp.basename(img_path),
                                 *image.size)))
    if decode and num_classes:
        bad = _bad_labels(mask, num_classes, ignore_index,
                          sample.get('reduce_zero_label', reduce_zero),
                          sample.get('label_map'))
        if bad:
            problems.append((seg_path, f'label values {bad[:8]} outside '
                             f'0..{num_classes - 1} and {ignore_index}'))
    return problems


def check_dataset_quickly(dataset, name, time_budget=STARTUP_CHECK_SECONDS,
                          config='CONFIG'):
    """The start-up check of tools/train.py: every listed file exists and
    masks have their image's size (from the file headers).

    Returns:
        tuple[int, int]: samples checked and listed (fewer checked when
        the time budget ran out).

    Raises:
        DataError: naming the first bad file and the number of problems.
    """
    problems, checked, total = check_samples(dataset, decode=False,
                                             time_budget=time_budget)
    if problems:
        path, problem = problems[0]
        more = f'; {len(problems)} problems in all' if len(problems) > 1 \
            else ''
        raise DataError(f'{path}: {problem} ({name}{more}); check every '
                        f'file with: python tools/misc/check_dataset.py '
                        f'{config}')
    return checked, total


@TRANSFORMS.register_module()
class CheckSegMapSize(BaseTransform):
    """Raise :class:`DataError` if a segmentation map's size differs from
    its image's.

    Put it after ``LoadAnnotations``. Compares ``gt_seg_map`` with
    ``ori_shape`` (the image's size when loaded, also in test pipelines
    that resize the image before loading the annotations).

    Required keys: ``gt_seg_map``, ``ori_shape``, ``img_path``,
    ``seg_map_path``.
    """

    def transform(self, results):
        seg_map = results.get('gt_seg_map')
        if seg_map is None:
            return results
        mask_hw = tuple(seg_map.shape[:2])
        image_hw = tuple(results['ori_shape'][:2])
        if mask_hw != image_hw:
            raise DataError(
                f'{results.get("seg_map_path")}: mask is '
                f'{mask_hw[1]}x{mask_hw[0]}, its image '
                f'{results.get("img_path")} is {image_hw[1]}x{image_hw[0]}')
        return results
