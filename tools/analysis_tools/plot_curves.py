# Copyright (c) autonl_mmseg contributors.
"""Plot training curves (loss, accuracy / mIoU) of MMEngine work dirs.

    python tools/analysis_tools/plot_curves.py WORK_DIR [WORK_DIR ...]
        [--out curves.png] [--keys loss accuracy/top1 mIoU]

Reads the scalars that MMEngine's ``LocalVisBackend`` writes
(``WORK_DIR/<timestamp>/vis_data/scalars.json``, one JSON object per
logged step; the newest run of each work dir) and draws one panel per key:
training keys (``loss``, ``lr``) against the iteration, validation keys
(``accuracy/top1``, ``mIoU``, ...) against the iteration they were measured
at. Work dirs without a key are left out of its panel. MMPretrain's
``analyze_logs.py plot_curve`` reads the same files; this tool needs only
matplotlib and puts classification and segmentation runs in one figure.
"""
import argparse
import glob
import json
import os.path as osp

DEFAULT_KEYS = ('loss', 'accuracy/top1', 'mIoU')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+', help='MMEngine work dirs')
    parser.add_argument('--out', default='curves.png', help='PNG to write')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS),
                        help='scalars to plot, one panel each')
    parser.add_argument('--labels', nargs='+',
                        help='legend label per work dir (default: its name)')
    return parser.parse_args(argv)


def find_scalars(work_dir):
    """The newest ``vis_data/scalars.json`` below ``work_dir``."""
    found = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not found:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir} (is it an MMEngine '
            f'work dir with the LocalVisBackend?)')
    return found[-1]


def read_scalars(path):
    """{key: ([steps], [values])}, in the order they were logged.

    Validation records carry the step of the training iteration they were
    measured at (iteration-based runs) or the epoch (epoch-based runs, where
    training records carry ``iter``); both are mapped to iterations.
    """
    records = [json.loads(line) for line in open(path) if line.strip()]
    iters_per_epoch = {}
    for rec in records:
        if 'epoch' in rec and 'iter' in rec:
            iters_per_epoch[rec['epoch']] = max(
                iters_per_epoch.get(rec['epoch'], 0), rec['iter'])
    series = {}
    for rec in records:
        is_train = 'lr' in rec or 'loss' in rec
        step = rec.get('iter', rec.get('step'))
        if not is_train and iters_per_epoch and rec.get('step') in \
                iters_per_epoch and 'iter' not in rec:
            step = iters_per_epoch[rec['step']]  # epoch -> its last iter
        for key, value in rec.items():
            if key in ('step', 'iter', 'epoch', 'time', 'data_time',
                       'memory') or not isinstance(value, (int, float)):
                continue
            steps, values = series.setdefault(key, ([], []))
            steps.append(step)
            values.append(value)
    return series


def plot(work_dirs, out, keys=DEFAULT_KEYS, labels=None):
    """Draw the curves; return ``{label: {key: last value}}``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = labels or [osp.basename(osp.normpath(d)) for d in work_dirs]
    if len(labels) != len(work_dirs):
        raise ValueError('give one --labels entry per work dir')
    runs = {label: read_scalars(find_scalars(d))
            for label, d in zip(labels, work_dirs)}
    keys = [k for k in keys if any(k in s for s in runs.values())]
    if not keys:
        raise ValueError('none of the keys is in the scalars')
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6),
                             squeeze=False)
    last = {}
    for ax, key in zip(axes[0], keys):
        for label, series in runs.items():
            if key not in series:
                continue
            steps, values = series[key]
            many = len(steps) > 30
            ax.plot(steps, values, '-' if many else '-o', ms=3, lw=1,
                    label=label)
            last.setdefault(label, {})[key] = values[-1]
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return last


def main(argv=None):
    args = parse_args(argv)
    last = plot(args.work_dirs, args.out, args.keys, args.labels)
    for label, values in last.items():
        text = ', '.join(f'{k} {v:.4g}' for k, v in values.items())
        print(f'{label}: last {text}')
    print(f'curves written to {args.out}')


if __name__ == '__main__':
    main()
