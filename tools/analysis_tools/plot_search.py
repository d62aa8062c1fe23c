# Copyright (c) autonl_mmseg contributors.
"""Draw a search's gate trajectories and its decoded architecture as PNGs.

    python tools/analysis_tools/plot_search.py WORK_DIR [--out-dir DIR]
    python tools/analysis_tools/plot_search.py --genotype G.json --out-dir DIR

From a search's work dir (``tools/train.py`` with ``SearchArchLoggerHook``):

- ``gate_trajectories.png``: one panel per kind of gate (kernel, expansion,
  SE, skip, LightNL insertion, channel ratio, spatial stride) with every
  gate's margin (log score - log threshold; > 0: the gate is on / the
  compact candidate accepted) against the iteration from its calibration, one line per block,
  coloured by depth; a last panel with every LightNL candidate's distance
  EMA and the decoded MACs. Read from the scalars the hook writes to the
  visualizer (``*/vis_data/scalars.json``);
- ``architecture.png``: the decoded network of ``WORK_DIR/genotype.json``:
  one column per block, grouped by stage; the box's height is the
  expansion, its label the kernel, SE ratio and, for a LightNL, its channel
  ratio and spatial stride.

``--genotype`` draws the architecture of any genotype file or shipped name.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys

ROOT = osp.abspath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
sys.path.insert(0, ROOT)

from autonl_mmseg.models.utils.genotype import (  # noqa: E402
    load_genotype, stage_boundaries)

#: panel title -> pattern of the gate's module name
GATE_KINDS = (
    ('kernel size', r'dims\.kernel_size\.gates'),
    ('expansion', r'dims\.expand_ratio\.gates'),
    ('SE ratio', r'dims\.se_ratio\.gates'),
    ('keep (skip)', r'dims\.keep\.gate'),
    ('LightNL insertion', r'dims\.insert\.gate'),
    ('LightNL channel ratio', r'dims\.channel_ratio\.gate'),
    ('LightNL spatial stride', r'dims\.spatial_stride\.gate'),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', nargs='?', help='search work dir')
    parser.add_argument('--genotype', help='draw this genotype only')
    parser.add_argument('--out-dir', help='where the PNGs go '
                        '(default: the work dir, or .)')
    args = parser.parse_args(argv)
    if not args.work_dir and not args.genotype:
        parser.error('give a WORK_DIR or --genotype')
    return args


def read_gate_series(path):
    """``{name: ([steps], [values])}`` of the ``gate/``, ``distance/`` and
    ``search/`` scalars of a ``scalars.json``."""
    series = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            step = record.get('step')
            for key, value in record.items():
                if key.startswith(('gate/', 'distance/', 'search/')):
                    steps, values = series.setdefault(key, ([], []))
                    steps.append(step)
                    values.append(value)
    return series


def find_gate_scalars(work_dir):
    """The newest ``vis_data/scalars.json`` under ``work_dir`` holding gate
    scalars."""
    candidates = []
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' in files and dirpath.endswith('vis_data'):
            candidates.append(osp.join(dirpath, 'scalars.json'))
    for path in sorted(candidates, reverse=True):
        with open(path) as f:
            if '"gate/' in f.read():
                return path
    raise FileNotFoundError(
        f'no vis_data/scalars.json with gate scalars under {work_dir} (a '
        'search run with SearchArchLoggerHook(scalar_interval > 0)?)')


def _block_order(name):
    """(stage, block) from 'backbone.layerS.B....' for colouring."""
    match = re.search(r'layer(\d+)\.(\d+)', name)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def plot_gate_trajectories(series, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import cm

    margins = {}
    for key, (steps, values) in series.items():
        if not (key.startswith('gate/') and key.endswith('/margin')):
            continue
        name = key[len('gate/'):-len('/margin')]
        # only calibrated points: before calibration the thresholds sit at
        # -50 and their margins (~40) would flatten every curve
        _, thresholds = series.get(f'gate/{name}/threshold', (steps, []))
        keep = [i for i in range(len(steps))
                if i >= len(thresholds) or thresholds[i] > -49]
        if keep:
            margins[name] = ([steps[i] for i in keep],
                             [values[i] for i in keep])
    panels = [(title, {n: v for n, v in margins.items()
                       if re.search(pattern, n)})
              for title, pattern in GATE_KINDS]
    panels = [(t, m) for t, m in panels if m]
    n = len(panels) + 1
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows),
                             squeeze=False)
    axes = axes.ravel()
    depth = sorted({_block_order(name) for name in margins})
    colour = {d: cm.viridis(i / max(1, len(depth) - 1))
              for i, d in enumerate(depth)}
    for ax, (title, gates) in zip(axes, panels):
        for name, (steps, values) in sorted(gates.items()):
            ax.plot(steps, values, lw=0.8,
                    color=colour[_block_order(name)])
        ax.axhline(0, color='k', lw=0.6, ls='--')
        ax.set_title(f'{title} ({len(gates)} gates)', fontsize=9)
        ax.set_xlabel('iteration', fontsize=8)
        ax.set_ylabel('margin (log units)', fontsize=8)
    ax = axes[len(panels)]
    for key, (steps, values) in series.items():
        if key.startswith('distance/'):
            ax.semilogy(steps, values, lw=0.5, alpha=0.6)
    ax.set_title('LightNL distance EMAs', fontsize=9)
    ax.set_xlabel('iteration', fontsize=8)
    if 'search/macs_decoded' in series:
        twin = ax.twinx()
        steps, values = series['search/macs_decoded']
        twin.plot(steps, [v / 1e6 for v in values], 'r-', lw=1.5)
        twin.set_ylabel('decoded MACs (M)', color='r', fontsize=8)
    for ax in axes[len(panels) + 1:]:
        ax.axis('off')
    fig.suptitle('gate margins after calibration (> 0: kept / compact '
                 'candidate accepted); colour: depth', fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_architecture(genotype, out, title=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    blocks = genotype['blocks']
    stages = stage_boundaries(blocks)
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(blocks) + 2), 4.2))
    x = 0.
    for s, ids in enumerate(stages):
        x0 = x
        for i in ids:
            b = blocks[i]
            height = 0.4 + 0.25 * float(b['expand_ratio'])
            face = '#9ecae1' if b['kernel_size'] == 3 else '#3182bd'
            ax.add_patch(Rectangle((x, 0), 0.62, height, fc=face, ec='k',
                                   lw=0.6))
            label = f"k{b['kernel_size']}\ne{b['expand_ratio']:g}"
            if b.get('se_ratio'):
                label += f"\nse{b['se_ratio']:g}"
            ax.text(x + 0.31, height / 2, label, ha='center', va='center',
                    fontsize=6.5)
            if b['stride'] == 2:
                ax.text(x + 0.31, -0.18, 's2', ha='center', fontsize=6)
            nl = b.get('non_local')
            if nl:
                ax.add_patch(Rectangle((x + 0.05, height + 0.08), 0.52, 0.5,
                                       fc='#fd8d3c', ec='k', lw=0.6))
                text = nl['type'] if nl['type'] != 'LightNL' else 'NL'
                if 'channel_ratio' in nl:
                    text += f"\nr{nl['channel_ratio']:g}"
                if 'spatial_stride' in nl:
                    text += f" s{nl['spatial_stride']}"
                ax.text(x + 0.31, height + 0.33, text, ha='center',
                        va='center', fontsize=5.5)
            x += 0.72
        ax.text((x0 + x - 0.1) / 2, 2.9, f"{blocks[ids[0]]['out_channels']}"
                f' ch', ha='center', fontsize=8)
        ax.axvline(x - 0.05, color='grey', lw=0.5, ls=':')
        x += 0.25
    meta = genotype.get('meta', {})
    info = f"{len(blocks)} blocks, " \
        f"{sum(bool(b.get('non_local')) for b in blocks)} LightNL"
    # the search's own count (its cost model's input size and classes:
    # 1000 for the budget), else the count of the genotype's classifier
    if 'macs' in meta and 'macs_input_size' in meta:
        info += (f", {meta['macs'] / 1e6:.1f}M MACs at "
                 f"{meta['macs_input_size'][0]} px, "
                 f"{meta.get('macs_num_classes', '?')} classes")
    elif 'macs_224' in meta:
        info += f", {meta['macs_224'] / 1e6:.1f}M MACs at 224"
    ax.set_title(f"{title or genotype.get('name', '')}: {info}  "
                 '(box height: expansion; dark: k5; orange: LightNL)',
                 fontsize=9)
    ax.set_xlim(-0.2, x)
    ax.set_ylim(-0.3, 3.1)
    ax.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def main(argv=None):
    args = parse_args(argv)
    out_dir = args.out_dir or args.work_dir or '.'
    os.makedirs(out_dir, exist_ok=True)
    written = []
    if args.genotype:
        genotype = load_genotype(args.genotype)
        written.append(plot_architecture(
            genotype, osp.join(out_dir, 'architecture.png')))
    else:
        series = read_gate_series(find_gate_scalars(args.work_dir))
        written.append(plot_gate_trajectories(
            series, osp.join(out_dir, 'gate_trajectories.png')))
        genotype = load_genotype(osp.join(args.work_dir, 'genotype.json'))
        written.append(plot_architecture(
            genotype, osp.join(out_dir, 'architecture.png')))
    for path in written:
        print(f'wrote {path}')
    return written


if __name__ == '__main__':
    main()
