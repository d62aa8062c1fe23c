# Copyright (c) autonl_mmseg contributors.
"""The toy model zoo: the paper's Tables 2 and 3 in miniature.

    python tools/analysis_tools/toy_zoo.py [--seeds 0 1 2]
        [--genotypes mobilenet-v2 mobilenet-v2-lightnl autonl-s autonl-l]
        [--cls-epochs N] [--seg-iters N] [--work-dir work_dirs/toy_zoo]
        [--out docs/results.md]

For every genotype and seed, runs the main job's pipeline (tools/demo.py):
pretrain the classifier on the toy ImageNet, fine-tune DeepLabV3 from its
backbone on the toy VOC, test. Prints and writes a table with the mean and
spread (sample standard deviation over seeds) of the toy ImageNet val top-1
and the toy VOC val mIoU, the classifier's MACs at 224 px (1000 classes, as
Table 3 counts them, mmengine's counter), and the CPU wall time per run.
The table replaces the block between ``<!-- toy-zoo:begin -->`` and
``<!-- toy-zoo:end -->`` of ``--out`` (appended when absent), with the
command that made it. A finished run (its ``result.json``) is not run again,
so an interrupted zoo continues where it stopped.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path[:0] = [ROOT, osp.join(ROOT, 'tools')]
from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from demo import Stages, make_toy_data, run_pipeline  # noqa: E402

GENOTYPES = ('mobilenet-v2', 'mobilenet-v2-lightnl', 'autonl-s', 'autonl-l')
BEGIN, END = '<!-- toy-zoo:begin -->', '<!-- toy-zoo:end -->'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--genotypes', nargs='+', default=list(GENOTYPES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--cls-epochs', type=int, default=None,
                        help='pretraining epochs (default: the config)')
    parser.add_argument('--seg-iters', type=int, default=None,
                        help='fine-tuning iterations (default: the config)')
    parser.add_argument('--work-dir', default='work_dirs/toy_zoo')
    parser.add_argument('--cls-data-root', default='data/toy_imagenet')
    parser.add_argument('--seg-data-root', default='data/toy_voc')
    parser.add_argument('--out', default='docs/results.md',
                        help='markdown file that receives the table')
    args = parser.parse_args(argv)
    for name, least in (('cls_epochs', 1), ('seg_iters', 2)):
        value = getattr(args, name)
        if value is not None and value < least:
            parser.error(f'--{name.replace("_", "-")} must be >= {least}')
    from autonl_mmseg.models.utils.genotype import load_genotype
    for genotype in args.genotypes:
        load_genotype(genotype)  # one-line error for an unknown name
    return args


def classifier_macs(genotype):
    """MACs of the 1000-class classifier at 224 px (paper's Table 3)."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    from get_flops import build_classifier, count, paper_rule
    return paper_rule(count(build_classifier(genotype), (224, 224))[1])


def mean_std(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.
    return f'{mean:.1f} ± {std:.1f}'


def table(rows, seeds, command):
    lines = [
        BEGIN,
        f'Command: `{command}` ({len(seeds)} seeds: '
        f'{", ".join(map(str, seeds))}; mean ± sample std over seeds).',
        '',
        '| network | MACs (224 px, Table 3 count) | toy ImageNet top-1 (%) '
        '| toy VOC mIoU (%) | CPU minutes per run (pretrain + fine-tune) |',
        '|---|---|---|---|---|',
    ]
    for genotype, runs in rows.items():
        minutes = [(r['cls_seconds'] + r['seg_seconds']) / 60 for r in runs]
        lines.append(
            f'| {genotype} | {classifier_macs(genotype) / 1e6:.1f}M '
            f'| {mean_std([r["top1"] for r in runs])} '
            f'| {mean_std([r["mIoU"] for r in runs])} '
            f'| {statistics.fmean(minutes):.1f} |')
    lines.append(END)
    return '\n'.join(lines)


def write_table(path, text):
    old = open(path).read() if osp.exists(path) else ''
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip('\n') + '\n\n' + text + '\n'
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(new)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    command = 'python tools/analysis_tools/toy_zoo.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    stages = Stages(osp.join(ROOT, args.work_dir),
                    total=1 + 2 * len(args.genotypes) * len(args.seeds))
    make_toy_data(stages, args.cls_data_root, args.seg_data_root)
    rows = {}
    for genotype in args.genotypes:
        for seed in args.seeds:
            work_dir = osp.join(args.work_dir, f'{genotype}_seed{seed}')
            done = osp.join(ROOT, work_dir, 'result.json')
            if osp.exists(done):
                with open(done) as f:
                    result = json.load(f)
                stages.index += 2
                print(f'\n{genotype} seed {seed}: done before '
                      f'(top-1 {result["top1"]:.1f}, mIoU '
                      f'{result["mIoU"]:.1f})')
            else:
                start = time.time()
                result = run_pipeline(
                    stages, work_dir, args.cls_data_root,
                    args.seg_data_root, genotype=genotype, seed=seed,
                    cls_epochs=args.cls_epochs, seg_iters=args.seg_iters,
                    test=False)
                result = {k: result[k] for k in
                          ('top1', 'mIoU', 'cls_seconds', 'seg_seconds')}
                result['seconds'] = time.time() - start
                with open(done, 'w') as f:
                    json.dump(result, f)
            rows.setdefault(genotype, []).append(result)
    text = table(rows, args.seeds, command)
    print('\n' + text)
    write_table(osp.join(ROOT, args.out), text)
    print(f'\nwritten to {args.out}')
    return rows


if __name__ == '__main__':
    run_cli(main)
