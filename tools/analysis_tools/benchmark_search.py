# Copyright (c) autonl_mmseg contributors.
"""Search cost: measured side by side in one run.

    python tools/analysis_tools/benchmark_search.py [--input-size 112]
        [--batch-size 8] [--iters 5] [--device cpu|cuda|all]

1. One training step (forward + backward) of the supernet with Eqn 14's
   reuse, of the supernet evaluating every LightNL candidate separately
   (``light_nl_reuse=False``), and of the fixed AutoNL-L
   (``AutoNLNet(genotype='autonl-l')``).
2. The isolated searchable LightNL forward (training mode: distances and
   EMA included) with all channel-ratio candidates vs one candidate (the
   reference ratio), at stride 1, and the full ratio x stride candidate set
   with and without reuse, on feature maps of the 224-px network.
   Target (analysis_utils.TARGETS): all ratio candidates cost at most 1.2x
   one.
"""
import argparse
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from analysis_utils import TARGETS, time_per_call  # noqa: E402

from autonl_mmseg.models.backbones import AutoNLNet  # noqa: E402
from autonl_mmseg.search import AutoNLSuperNet, SearchableLightNL  # noqa

# (channels, size at 224 px input) of LightNL positions of the default space
LIGHT_NL_SHAPES = [(24, 56), (40, 28), (96, 14), (192, 7)]
RATIOS = (0.125, 0.25, 0.5)
RATIO_TARGET = TARGETS['search_ratio_candidates_cost']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark the search cost')
    parser.add_argument('--input-size', type=int, default=112)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iters', type=int, default=5,
                        help='timed repetitions (median reported)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--light-nl-batch', type=int, default=16)
    parser.add_argument('--light-nl-iters', type=int, default=50)
    parser.add_argument('--device', default='all',
                        choices=['cpu', 'cuda', 'all'])
    return parser.parse_args(argv)


def timeit(fns, device, iters, warmup):
    """Median time of each function; the functions are timed round-robin so
    that load from other processes affects all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            times[name].append(time_per_call(fn, device))
    return {name: statistics.median(t) for name, t in times.items()}


def train_step(model, x):

    def step():
        model.zero_grad(set_to_none=True)
        out = model(x)
        sum(o.float().mean() for o in out).backward()

    return step


def light_nl_forward(module, x):

    def forward():
        with torch.no_grad():
            module(x)

    return forward


def run(device, args):
    torch.manual_seed(0)
    rows = []
    x = torch.randn(args.batch_size, 3, args.input_size, args.input_size,
                    device=device)
    models = dict(
        supernet_reuse=AutoNLSuperNet(light_nl_reuse=True),
        supernet_naive=AutoNLSuperNet(light_nl_reuse=False),
        autonl_l=AutoNLNet(genotype='autonl-l'))
    for model in models.values():
        model.to(device).train()
    times = timeit({name: train_step(model, x)
                    for name, model in models.items()}, device, args.iters,
                   args.warmup)
    rows.append(('supernet step, Eqn 14 reuse', times['supernet_reuse'],
                 '1.00'))
    rows.append(('supernet step, per-candidate (naive)',
                 times['supernet_naive'],
                 f"{times['supernet_naive'] / times['supernet_reuse']:.2f}"))
    rows.append(('AutoNL-L (fixed) step', times['autonl_l'],
                 f"{times['autonl_l'] / times['supernet_reuse']:.2f}"))
    print(f'\n== {device} | train step (fwd+bwd), batch {args.batch_size}, '
          f'{args.input_size}x{args.input_size} ==')
    print(f'{"":42s} {"ms":>9s} {"x reuse":>8s}')
    for name, t, ratio in rows:
        print(f'{name:42s} {t * 1e3:9.1f} {ratio:>8s}')
    print(f'supernet (reuse) / AutoNL-L: '
          f'{times["supernet_reuse"] / times["autonl_l"]:.2f}x')

    print(f'\n== {device} | searchable LightNL forward (train mode), batch '
          f'{args.light_nl_batch} ==')
    print(f'{"C x HxW":>12s} {"1 ratio":>9s} {"3 ratios":>9s} {"ratio":>6s}'
          f' {"3x2 reuse":>10s} {"3x2 naive":>10s} {"naive/reuse":>11s}')
    worst = 0.
    for channels, size in LIGHT_NL_SHAPES:
        feat = torch.randn(args.light_nl_batch, channels, size, size,
                           device=device)
        variants = dict(
            one=SearchableLightNL(channels, (RATIOS[-1], ), (1, )),
            ratios=SearchableLightNL(channels, RATIOS, (1, )),
            full_reuse=SearchableLightNL(channels, RATIOS, (2, 1)),
            full_naive=SearchableLightNL(channels, RATIOS, (2, 1),
                                         reuse=False))
        for module in variants.values():
            module.to(device).train()
        t = timeit({name: light_nl_forward(module, feat)
                    for name, module in variants.items()}, device,
                   args.light_nl_iters, args.warmup)
        ratio = t['ratios'] / t['one']
        worst = max(worst, ratio)
        print(f'{channels:4d} x {size:3d}^2 {t["one"] * 1e3:9.3f} '
              f'{t["ratios"] * 1e3:9.3f} {ratio:6.2f} '
              f'{t["full_reuse"] * 1e3:10.3f} {t["full_naive"] * 1e3:10.3f} '
              f'{t["full_naive"] / t["full_reuse"]:11.2f}')
    met = 'met' if worst <= RATIO_TARGET else 'NOT met'
    print(f'all ratio candidates / one candidate: worst {worst:.2f}x '
          f'(target <= {RATIO_TARGET}x: {met})')
    return times, worst


def main(argv=None):
    args = parse_args(argv)
    torch.backends.cudnn.benchmark = False
    devices = [torch.device('cpu')]
    if args.device in ('cuda', 'all') and torch.cuda.is_available():
        devices = [torch.device('cuda')] if args.device == 'cuda' else \
            devices + [torch.device('cuda')]
    elif args.device == 'cuda':
        raise SystemExit('error: --device cuda but CUDA is not available')
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads')
    return {str(d): run(d, args) for d in devices}


if __name__ == '__main__':
    from autonl_mmseg.engine.cli import run_cli
    run_cli(main)
