# Copyright (c) autonl_mmseg contributors.
"""Shortcut baselines of an ImageNet-format classification set.

    python tools/analysis_tools/shortcut_baselines.py data/toy_imagenet
        [--size 16] [--bins 4]

A benchmark measures what its name says only if no shortcut solves it. This
tool fits two linear classifiers (multinomial logistic regression, L2) on
the ``train`` split and reports their top-1 on ``val``:

* ``colour histogram``: the joint RGB histogram (``bins`` per channel) of
  each image: what a colour shortcut can reach;
* ``raw pixels``: the image resized to ``size x size`` pixels, standardised:
  what a linear model on pixels (templates, mean colours, positions) can
  reach.

The toy classes are defined by shape and texture under random colours, so
both should stay near chance, far below the CNNs (see docs/results.md).
"""
import argparse
import os.path as osp

import numpy as np
import torch
from PIL import Image


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='folder with {train,val}/ and '
                        'meta/{train,val}.txt (ImageNet layout)')
    parser.add_argument('--size', type=int, default=16,
                        help='side of the raw-pixel features')
    parser.add_argument('--bins', type=int, default=4,
                        help='histogram bins per colour channel')
    parser.add_argument('--max-per-split', type=int, default=None,
                        help='use at most this many images per split')
    return parser.parse_args(argv)


def load_split(root, split, limit=None):
    """Images (uint8 RGB arrays) and labels of one split."""
    images, labels = [], []
    with open(osp.join(root, 'meta', f'{split}.txt')) as f:
        lines = [line.split() for line in f if line.strip()]
    if limit:
        # spread the subset over all classes (the lists are class-sorted)
        step = max(1, len(lines) // limit)
        lines = lines[::step][:limit]
    for name, label in lines:
        with Image.open(osp.join(root, split, name)) as img:
            images.append(np.asarray(img.convert('RGB')))
        labels.append(int(label))
    return images, np.array(labels)


def colour_histograms(images, bins):
    """(N, bins**3) joint RGB histograms, normalised to sum to 1."""
    feats = []
    for img in images:
        q = (img.reshape(-1, 3).astype(np.int64) * bins) // 256
        idx = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
        hist = np.bincount(idx, minlength=bins**3).astype(np.float32)
        feats.append(hist / hist.sum())
    return np.stack(feats)


def raw_pixels(images, size):
    """(N, size*size*3) pixels of the images resized to ``size``."""
    return np.stack([
        np.asarray(Image.fromarray(img).resize((size, size),
                                               Image.BILINEAR),
                   dtype=np.float32).ravel() for img in images
    ])


def linear_top1(train_x, train_y, val_x, val_y, weight_decay=1e-3,
                steps=200):
    """Fit L2-regularised softmax regression (L-BFGS); val top-1 in %."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xt = torch.from_numpy((train_x - mean) / std)
    xv = torch.from_numpy((val_x - mean) / std)
    yt = torch.from_numpy(train_y)
    num_classes = int(max(train_y.max(), val_y.max())) + 1
    weight = torch.zeros(xt.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ weight + bias, yt)
        loss = loss + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        train_acc = ((xt @ weight + bias).argmax(1) == yt).float().mean()
        pred = (xv @ weight + bias).argmax(1).numpy()
    return 100. * float((pred == val_y).mean()), 100. * float(train_acc)


def shortcut_baselines(data_root, size=16, bins=4, max_per_split=None):
    """{baseline: (val top-1, train top-1)} and the chance level, in %."""
    train_imgs, train_y = load_split(data_root, 'train', max_per_split)
    val_imgs, val_y = load_split(data_root, 'val', max_per_split)
    results = {}
    for name, fn, arg in (('colour histogram', colour_histograms, bins),
                          ('raw pixels', raw_pixels, size)):
        results[name] = linear_top1(fn(train_imgs, arg), train_y,
                                    fn(val_imgs, arg), val_y)
    chance = 100. * np.bincount(val_y).max() / len(val_y)
    return results, chance


def main(argv=None):
    args = parse_args(argv)
    results, chance = shortcut_baselines(args.data_root, args.size,
                                         args.bins, args.max_per_split)
    print(f'shortcut baselines on {args.data_root} (linear softmax '
          f'regression; chance {chance:.1f}%)')
    for name, (val, train) in results.items():
        print(f'  {name:18s} val top-1 {val:5.1f}%  (train {train:5.1f}%)')
    return results, chance


if __name__ == '__main__':
    main()
