"""Generate the deterministic toy ImageNet-format classification dataset.

Usage::

    python tools/dataset_converters/make_toy_imagenet.py
        [--out data/toy_imagenet] [--seed 0] [--num-train-per-class 500]
        [--num-val-per-class 100] [--size 64] [--classes 1,3,7,8,12,15]
        [--force]

Writes ``<out>/{train,val}/<class_name>/*.JPEG``,
``<out>/meta/{train,val}.txt`` (``"<class_name>/<file>.JPEG <label>"``,
relative to the split folder, as MMPretrain's ``ImageNet`` expects),
``<out>/meta/classes.txt`` and ``<out>/toy_manifest.json``. One roughly
centred object of one class per image, drawn by the same generator as the
toy VOC scenes (see
``configs/_base_/datasets/toy_imagenet.py``). A second run with the same
arguments does nothing; ``--force`` regenerates.
"""
import argparse

import toy_scenes as ts
from toy_progress import count_calls


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy ImageNet-format classification dataset')
    parser.add_argument('--out', default='data/toy_imagenet')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train-per-class', type=int, default=500)
    parser.add_argument('--num-val-per-class', type=int, default=100)
    parser.add_argument('--size', type=int, default=64,
                        help='side of the square images in px')
    parser.add_argument(
        '--classes', default=None,
        help='comma-separated VOC ids or names (default 1,3,7,8,12,15)')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if an identical dataset exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    class_ids = ts.parse_class_ids(args.classes)
    total = len(class_ids) * (args.num_train_per_class +
                              args.num_val_per_class)
    with count_calls(ts, 'render_object_crop', total, 'toy ImageNet images'):
        s = ts.generate_toy_imagenet(
            out=args.out, seed=args.seed,
            num_train_per_class=args.num_train_per_class,
            num_val_per_class=args.num_val_per_class, size=args.size,
            class_ids=class_ids, force=args.force)
    cls = ','.join(s['classes'])
    if not s['generated']:
        print(f'toy_imagenet: {args.out} is up to date (seed={s["seed"]}, '
              f'{s["num_train_per_class"]}+{s["num_val_per_class"]} per '
              f'class, size={s["size"]}, classes={cls}); nothing to do '
              f'(use --force to regenerate)')
    else:
        n = len(s['classes'])
        print(f'toy_imagenet: wrote {n * s["num_train_per_class"]} train + '
              f'{n * s["num_val_per_class"]} val {s["size"]}px images of '
              f'{n} classes ({cls}), seed={s["seed"]} to {args.out} in '
              f'{s["seconds"]:.1f}s')
    return s


if __name__ == '__main__':
    main()
