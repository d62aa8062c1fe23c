"""Generate the deterministic toy Pascal VOC 2012 segmentation dataset.

Usage::

    python tools/dataset_converters/make_toy_voc.py [--out data/toy_voc]
        [--seed 0] [--num-train 1000] [--num-val 200] [--num-aug-extra 0]
        [--classes 1,3,7,8,12,15] [--force]

Writes ``<out>/VOCdevkit/VOC2012/{JPEGImages, SegmentationClass,
SegmentationClassAug, ImageSets/Segmentation/{train,val,aug}.txt}`` for
MMSegmentation's ``PascalVOCDataset`` (see
``configs/_base_/datasets/toy_voc.py``) and ``<out>/toy_manifest.json``.
A second run with the same arguments finds the manifest and does nothing;
``--force`` regenerates. Only numpy, OpenCV and Pillow are needed.
"""
import argparse

import toy_scenes as ts
from toy_progress import count_calls


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy Pascal VOC 2012 segmentation dataset')
    parser.add_argument('--out', default='data/toy_voc',
                        help='output root (VOCdevkit/VOC2012 goes below it)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument(
        '--num-aug-extra', type=int, default=0,
        help='extra SBD-like images only listed in aug.txt '
        '(aug.txt = train + these)')
    parser.add_argument(
        '--classes', default=None,
        help='comma-separated VOC ids or names (default 1,3,7,8,12,15)')
    parser.add_argument('--void-radius', type=int, default=1,
                        help='255 band of 2*r px on object borders')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if an identical dataset exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    total = args.num_train + args.num_val + args.num_aug_extra
    with count_calls(ts, 'render_scene', total, 'toy VOC images'):
        s = ts.generate_toy_voc(
            out=args.out, seed=args.seed, num_train=args.num_train,
            num_val=args.num_val, num_aug_extra=args.num_aug_extra,
            class_ids=ts.parse_class_ids(args.classes),
            void_radius=args.void_radius, force=args.force)
    cls = ','.join(s['classes'])
    if not s['generated']:
        print(f'toy_voc: {args.out} is up to date (seed={s["seed"]}, '
              f'train={s["num_train"]}, val={s["num_val"]}, '
              f'classes={cls}); nothing to do (use --force to regenerate)')
    else:
        print(f'toy_voc: wrote {s["num_train"]} train + {s["num_val"]} val '
              f'(+{s["num_aug_extra"]} aug-only) images, classes={cls}, '
              f'seed={s["seed"]} to {s["root"]} in {s["seconds"]:.1f}s')
    return s


if __name__ == '__main__':
    main()
