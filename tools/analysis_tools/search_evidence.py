# Copyright (c) autonl_mmseg contributors.
"""Evidence that the search searches: a MACs-target (or lambda) sweep with
retrained accuracies, two-seed agreement, and the searched genotype against
random genotypes of the same MACs. Writes one table.

    python tools/analysis_tools/search_evidence.py OUT_DIR \\
        [--targets 1.5e8 2.0e8 2.5e8 | --lambdas 0.1 0.5 1.0] \\
        [--search-seeds 0 1] [--retrain-seeds 0 1 2] [--num-random 5] \\
        [--search-epochs 6] [--retrain-epochs 9] [--data-root DIR] \\
        [--search-options K=V ...] [--retrain-options K=V ...] \\
        [--jobs 2]

Every run goes through ``tools/train.py`` (the user's interface), each in
its own work dir under OUT_DIR:

1. ``search/<point>_s<seed>``: the toy search
   (``configs/autonl/toy/autonl_search_toy-in1k.py``) at every sweep point
   (``model.target_macs`` or ``model.cost_weight``) and search seed;
2. ``retrain/<genotype>_s<seed>``: the searched genotype of the first
   search seed of every point, retrained with the toy classification
   recipe (``configs/autonl/toy/autonl-s_toy-in1k.py`` with
   ``model.backbone.genotype=``) for every retrain seed;
3. ``random/random<i>.json``: ``--num-random`` genotypes drawn uniformly
   from the same search space (``AutoNLSuperNet.sample_genotype``) whose
   MACs (224 px, 1000 classes) are within ``--random-tolerance`` (5%) of
   the searched genotype of ``--baseline-point`` (default: the first),
   retrained with the same budget and seeds.

A run whose result already exists is not run again, so the tool can be
stopped and resumed (and run at a reduced scale first). It writes
``OUT_DIR/search_evidence.md`` (the tables), ``search_evidence.json``
(every number) and ``search_sweep.png`` (MACs against retrained top-1).
"""
import argparse
import json
import os
import os.path as osp
import random
import statistics
import subprocess
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

SEARCH_CFG = 'configs/autonl/toy/autonl_search_toy-in1k.py'
RETRAIN_CFG = 'configs/autonl/toy/autonl-s_toy-in1k.py'
#: the fields of one block's choice (a skipped block: all None)
CHOICE_FIELDS = ('kernel_size', 'expand_ratio', 'se_ratio', 'non_local')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir')
    sweep = parser.add_mutually_exclusive_group()
    sweep.add_argument('--targets', nargs='+', type=float,
                       help='model.target_macs values (MACs at 224 px)')
    sweep.add_argument('--lambdas', nargs='+', type=float,
                       help='model.cost_weight values (plain Eqn 15)')
    parser.add_argument('--search-seeds', nargs='+', type=int,
                        default=[0, 1])
    parser.add_argument('--retrain-seeds', nargs='+', type=int,
                        default=[0, 1, 2])
    parser.add_argument('--num-random', type=int, default=5)
    parser.add_argument('--random-tolerance', type=float, default=0.05)
    parser.add_argument('--baseline-point', type=int, default=0,
                        help='index of the sweep point the random '
                        'genotypes are compared with')
    parser.add_argument('--search-epochs', type=int,
                        help='train_cfg.max_epochs of the searches '
                        '(default: the config\'s)')
    parser.add_argument('--retrain-epochs', type=int,
                        help='train_cfg.max_epochs of the retrainings '
                        '(default: the config\'s)')
    parser.add_argument('--data-root', help='toy ImageNet root')
    parser.add_argument('--search-options', nargs='+', default=[],
                        help='more --cfg-options of the searches')
    parser.add_argument('--retrain-options', nargs='+', default=[],
                        help='more --cfg-options of the retrainings')
    parser.add_argument('--jobs', type=int, default=1,
                        help='training runs at once (each a tools/train.py '
                        'process); searches first, then every retraining')
    parser.add_argument('--threads', type=int,
                        help='OMP_NUM_THREADS of each run (default: the '
                        'CPU count divided by --jobs)')
    parser.add_argument('--stages', nargs='+',
                        default=['search', 'retrain', 'random', 'table'],
                        choices=['search', 'retrain', 'random', 'table'])
    args = parser.parse_args(argv)
    if not args.targets and not args.lambdas:
        args.targets = [2.0e8]
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // args.jobs)
    return args


# --------------------------------------------------------------- runs --
def run_train(config, work_dir, options, log, threads=None):
    """tools/train.py CONFIG --work-dir WORK_DIR --cfg-options ...; returns
    the wall time in seconds."""
    os.makedirs(work_dir, exist_ok=True)
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', work_dir]
    if options:
        cmd += ['--cfg-options', *options]
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
    start = time.time()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, env=env,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed; see {log}')
    return time.time() - start


def data_options(data_root):
    if not data_root:
        return []
    return [f'{loader}.dataset.data_root={data_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]


def last_top1(work_dir):
    from plot_curves import find_scalars, read_scalars
    series = read_scalars(find_scalars(work_dir))
    if 'accuracy/top1' not in series:
        raise ValueError(f'no accuracy/top1 in {work_dir}')
    return series['accuracy/top1'][1][-1]


def point_name(args, value):
    return f'target{value:.3g}' if args.targets else f'lambda{value:g}'


def epoch_options(epochs):
    """--cfg-options for ``epochs`` training epochs, one validation at the
    end (none when ``epochs`` is None: the config's own schedule)."""
    if not epochs:
        return []
    # (the cosine decay's end is a number in the config, not a link)
    return [f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs}',
            f'param_scheduler.1.end={epochs}']


def run_search(args, value, seed):
    work_dir = osp.join(args.out_dir, 'search',
                        f'{point_name(args, value)}_s{seed}')
    result = osp.join(work_dir, 'result.json')
    if osp.isfile(result):
        return json.load(open(result))
    options = data_options(args.data_root) + [f'randomness.seed={seed}']
    options.append(f'model.target_macs={value}' if args.targets else
                   f'model.cost_weight={value}')
    options += epoch_options(args.search_epochs) + args.search_options
    wall = run_train(SEARCH_CFG, work_dir, options,
                     osp.join(work_dir, 'train.out'), args.threads)
    genotype = json.load(open(osp.join(work_dir, 'genotype.json')))
    out = dict(point=value, seed=seed, wall_s=wall,
               supernet_top1=last_top1(work_dir),
               macs_224=genotype['meta']['macs'],
               num_blocks=genotype['meta']['num_blocks'],
               num_light_nl=genotype['meta']['num_light_nl'],
               genotype=osp.join(work_dir, 'genotype.json'))
    json.dump(out, open(result, 'w'), indent=1)
    return out


def run_retrain(args, genotype_path, label, seed):
    work_dir = osp.join(args.out_dir, 'retrain', f'{label}_s{seed}')
    result = osp.join(work_dir, 'result.json')
    if osp.isfile(result):
        return json.load(open(result))
    options = data_options(args.data_root) + [
        f'randomness.seed={seed}',
        f'model.backbone.genotype={osp.abspath(genotype_path)}'
    ]
    options += epoch_options(args.retrain_epochs) + args.retrain_options
    wall = run_train(RETRAIN_CFG, work_dir, options,
                     osp.join(work_dir, 'train.out'), args.threads)
    out = dict(label=label, seed=seed, wall_s=wall,
               top1=last_top1(work_dir))
    json.dump(out, open(result, 'w'), indent=1)
    return out


# ----------------------------------------------------------- analysis --
def block_choices(genotype, space):
    """One choice tuple per block position of the search space: the kept
    blocks of a stage fill its first positions (a genotype does not record
    which block of a stage was skipped), skipped positions are None."""
    from autonl_mmseg.models.utils.genotype import stage_boundaries
    blocks = genotype['blocks']
    per_stage = [[] for _ in space['definition']['stages']]
    for stage, ids in enumerate(stage_boundaries(blocks)):
        per_stage[stage] = [
            tuple(json.dumps(blocks[i].get(f), sort_keys=True)
                  for f in CHOICE_FIELDS) for i in ids
        ]
    choices = []
    for stage, spec in enumerate(space['definition']['stages']):
        kept = per_stage[stage]
        choices += kept + [None] * (spec['num_blocks'] - len(kept))
    return choices


def agreement(genotype_a, genotype_b, space):
    """Fraction of block positions with the same choice (kept or skipped,
    kernel, expansion, SE, LightNL with its ratio and stride), and the
    fraction of the individual decisions that agree."""
    a, b = block_choices(genotype_a, space), block_choices(genotype_b, space)
    blocks = sum(x == y for x, y in zip(a, b)) / len(a)
    same = total = 0
    for x, y in zip(a, b):
        total += 1 + len(CHOICE_FIELDS)
        same += (x is None) == (y is None)
        if x is not None and y is not None:
            same += sum(p == q for p, q in zip(x, y))
        elif x is None and y is None:
            same += len(CHOICE_FIELDS)
    return blocks, same / total


def sample_random_genotypes(target_macs, count, tolerance, seed=0,
                            max_draws=200000):
    """``count`` genotypes drawn uniformly from the default search space
    with MACs (224 px, 1000 classes) within ``tolerance`` of the target."""
    from autonl_mmseg.models.utils.complexity import genotype_macs
    from autonl_mmseg.search import AutoNLSuperNet
    supernet = AutoNLSuperNet()
    rng = random.Random(seed)
    found = []
    for _ in range(max_draws):
        genotype = supernet.sample_genotype(rng,
                                            name=f'random{len(found)}')
        macs = genotype_macs(genotype)['total']
        if abs(macs / target_macs - 1) <= tolerance:
            genotype['meta'] = dict(macs_224=int(macs),
                                    sampled_for=target_macs)
            found.append(genotype)
            if len(found) == count:
                return found, supernet.space
    raise RuntimeError(f'only {len(found)} of {count} random genotypes '
                       f'within {tolerance:.0%} of {target_macs:.3g} MACs')


def mean_spread(values):
    if not values:
        return 'n/a'
    if len(values) == 1:
        return f'{values[0]:.1f}'
    return f'{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f}'


def write_outputs(args, results):
    os.makedirs(args.out_dir, exist_ok=True)
    json.dump(results, open(osp.join(args.out_dir, 'search_evidence.json'),
                            'w'), indent=1)
    lines = ['| point | search seed | supernet val top-1 | MACs (224) | '
             'blocks | LightNL | search wall (s) |', '|---|---|---|---|---|'
             '---|---|']
    for s in results['searches']:
        lines.append(
            f"| {s['point_name']} | {s['seed']} | {s['supernet_top1']:.1f} "
            f"| {s['macs_224'] / 1e6:.1f}M | {s['num_blocks']} | "
            f"{s['num_light_nl']} | {s['wall_s']:.0f} |")
    lines += ['', '| point | seeds compared | blocks agreeing | decisions '
              'agreeing |', '|---|---|---|---|']
    for a in results['agreement']:
        lines.append(f"| {a['point_name']} | {a['seeds']} | "
                     f"{a['blocks']:.0%} | {a['decisions']:.0%} |")
    lines += ['', '| genotype | MACs (224) | retrained top-1 (mean +- sd) '
              '| seeds |', '|---|---|---|---|']
    for r in results['retrained']:
        lines.append(f"| {r['label']} | {r['macs_224'] / 1e6:.1f}M | "
                     f"{mean_spread(r['top1'])} | {len(r['top1'])} |")
    if results.get('random_summary'):
        s = results['random_summary']
        lines += ['', f"Search vs random at {s['macs_224'] / 1e6:.1f}M "
                  f"MACs (+-{args.random_tolerance:.0%}): searched "
                  f"{mean_spread(s['searched'])}, random genotypes "
                  f"{mean_spread(s['random_means'])} (mean over genotypes "
                  f"of their seed means; {s['num_random']} genotypes); "
                  f"the searched genotype's mean is above "
                  f"{sum(statistics.mean(s['searched']) > m for m in s['random_means'])}"
                  f" of the {len(s['random_means'])} random genotypes'."]
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.out_dir, 'search_evidence.md'), 'w') as f:
        f.write(text)
    points = [r for r in results['retrained'] if r['top1']]
    if points:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for r in points:
            searched = not r['label'].startswith('random')
            ax.errorbar(r['macs_224'] / 1e6, statistics.mean(r['top1']),
                        yerr=statistics.stdev(r['top1'])
                        if len(r['top1']) > 1 else 0,
                        fmt='o' if searched else 'x',
                        color='C0' if searched else 'C3', capsize=3)
        ax.set_xlabel('MACs at 224 px (M)')
        ax.set_ylabel('retrained toy top-1 (%)')
        ax.set_title('o: searched, x: random (same space)', fontsize=9)
        fig.tight_layout()
        fig.savefig(osp.join(args.out_dir, 'search_sweep.png'), dpi=120)
        plt.close(fig)
    print(text)
    return text


def run_all(thunks, jobs):
    """Call every thunk (each runs one training process), ``jobs`` at once;
    results in order. A failed run does not stop the others; the first
    error is raised once all have finished."""
    if jobs == 1 or len(thunks) <= 1:
        return [thunk() for thunk in thunks]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(thunk) for thunk in thunks]
    errors = [f.exception() for f in futures if f.exception()]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    points = args.targets or args.lambdas
    results = dict(searches=[], agreement=[], retrained=[])
    from autonl_mmseg.search import build_search_space
    space = build_search_space()

    def done(kind, name):
        return osp.isfile(osp.join(args.out_dir, kind, name, 'result.json'))

    # 1. the searches (all points and seeds at once)
    tasks = [(value, seed) for value in points for seed in args.search_seeds
             if 'search' in args.stages
             or done('search', f'{point_name(args, value)}_s{seed}')]
    runs = run_all([lambda v=v, s=s: run_search(args, v, s)
                    for v, s in tasks], args.jobs)
    searched = {}
    for value in points:
        name = point_name(args, value)
        point_runs = [r for (v, _), r in zip(tasks, runs) if v == value]
        for run in point_runs:
            run['point_name'] = name
            results['searches'].append(run)
        if not point_runs:
            continue
        searched[value] = point_runs[0]
        genotypes = [json.load(open(r['genotype'])) for r in point_runs]
        for other, run in zip(genotypes[1:], point_runs[1:]):
            blocks, decisions = agreement(genotypes[0], other, space)
            results['agreement'].append(
                dict(point_name=name, seeds=f"{point_runs[0]['seed']} vs "
                     f"{run['seed']}", blocks=blocks, decisions=decisions))

    # 2. what is retrained: the searched genotype of every point, and
    # random genotypes at the MACs of the baseline point's
    entries = []  # (label, genotype path, MACs)
    for value, run in searched.items():
        entries.append((f'searched_{point_name(args, value)}',
                        run['genotype'], run['macs_224']))
    base_value = points[args.baseline_point]
    num_searched = len(entries)
    random_dir = osp.join(args.out_dir, 'random')
    saved = [osp.join(random_dir, f'random{i}.json')
             for i in range(args.num_random)]
    if base_value in searched and args.num_random and (
            'random' in args.stages or all(map(osp.isfile, saved))):
        if all(map(osp.isfile, saved)):  # drawn before: the same ones
            genotypes = [json.load(open(path)) for path in saved]
        else:
            genotypes, _ = sample_random_genotypes(
                searched[base_value]['macs_224'], args.num_random,
                args.random_tolerance)
            os.makedirs(random_dir, exist_ok=True)
            for genotype, path in zip(genotypes, saved):
                json.dump(genotype, open(path, 'w'), indent=1)
        for i, (genotype, path) in enumerate(zip(genotypes, saved)):
            entries.append((f'random{i}', path,
                            genotype['meta']['macs_224']))

    # 3. every retraining at once
    stage = {True: 'random', False: 'retrain'}
    tasks = [(label, path, seed) for i, (label, path, _) in enumerate(entries)
             for seed in args.retrain_seeds
             if stage[i >= num_searched] in args.stages
             or done('retrain', f'{label}_s{seed}')]
    top1s = run_all([lambda p=p, n=n, s=s: run_retrain(args, p, n, s)
                     for n, p, s in tasks], args.jobs)
    for label, _, macs in entries:
        results['retrained'].append(
            dict(label=label, macs_224=macs,
                 top1=[r['top1'] for (n, _, _), r in zip(tasks, top1s)
                       if n == label]))
    if len(entries) > num_searched:
        base_label = f'searched_{point_name(args, base_value)}'
        results['random_summary'] = dict(
            macs_224=searched[base_value]['macs_224'],
            searched=next(r['top1'] for r in results['retrained']
                          if r['label'] == base_label),
            random_means=[statistics.mean(r['top1'])
                          for r in results['retrained'][num_searched:]
                          if r['top1']],
            num_random=len(entries) - num_searched)
    return write_outputs(args, results)


if __name__ == '__main__':
    main()
