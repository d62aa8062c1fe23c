# Copyright (c) autonl_mmseg contributors.
"""Rename the keys of a search checkpoint written before the supernet's
blocks were built by ``MBConv`` and their gates moved into search
dimensions, so that ``--resume`` and ``tools/export_genotype.py`` take it.

    python tools/model_converters/convert_supernet_checkpoint.py IN OUT

Old -> new, inside each block ``layerI.J.``:

    expand_conv.*            conv.0.*
    depthwise_conv.weight    conv.E.conv.weight   (E = 1 with an expand conv)
    bn.*                     conv.E.bn.*
    se.*                     conv.E+1.*
    project_conv.*           conv.LAST.*
    kernel_gates.N.*         dims.kernel_size.gates.N.*
    expand_gates.N.*         dims.expand_ratio.gates.N.*
    skip_gate.*              dims.keep.gate.*
    light_nl.insert_gate.*   light_nl.dims.insert.gate.*
    light_nl.channel_gate.*  light_nl.dims.channel_ratio.gate.*
    light_nl.spatial_gate.*  light_nl.dims.spatial_stride.gate.*

Thresholds written before the gates compared log scores (issue 9) are
linear: ``t > 0`` becomes ``log t`` (the same decisions), ``t <= 0`` (never
trained: every weight gate on, no compact candidate accepted) the
uncalibrated -50; a ``...gate.calibrated`` buffer is added after every
threshold (True for a converted ``t > 0``). Such a checkpoint predates the
searched SE ratio too: build its supernet with the space it was searched
in (the old default: the current default with ``se_ratio`` fixed per
stage, 0 for the 16/24/40-channel stages and 0.25 after).

Parameters keep their order, so the optimizer state in the checkpoint stays
valid (the thresholds' momenta stay in the old units).
AutoNLNet checkpoints need no conversion (their keys are unchanged).
"""
import argparse
import os.path as osp
import re
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

BLOCK_KEY = re.compile(r'^(.*layer\d+\.\d+\.)(.*)$')
GATE_RULES = [
    (r'^kernel_gates\.', 'dims.kernel_size.gates.'),
    (r'^expand_gates\.', 'dims.expand_ratio.gates.'),
    (r'^skip_gate\.', 'dims.keep.gate.'),
    (r'^light_nl\.insert_gate\.', 'light_nl.dims.insert.gate.'),
    (r'^light_nl\.channel_gate\.', 'light_nl.dims.channel_ratio.gate.'),
    (r'^light_nl\.spatial_gate\.', 'light_nl.dims.spatial_stride.gate.'),
]


def convert_keys(state_dict):
    """The state dict with old supernet block keys renamed (others kept)."""
    blocks = {}
    for key in state_dict:
        match = BLOCK_KEY.match(key)
        if match:
            blocks.setdefault(match.group(1), set()).add(match.group(2))
    converted = {}
    for key, value in state_dict.items():
        match = BLOCK_KEY.match(key)
        if match:
            prefix, rest = match.groups()
            names = blocks[prefix]
            expand = int(any(n.startswith('expand_conv.') for n in names))
            se = int(any(n.startswith('se.') for n in names))
            rules = [(r'^expand_conv\.', 'conv.0.'),
                     (r'^depthwise_conv\.weight$',
                      f'conv.{expand}.conv.weight'),
                     (r'^bn\.', f'conv.{expand}.bn.'),
                     (r'^se\.', f'conv.{expand + 1}.'),
                     (r'^project_conv\.', f'conv.{expand + 1 + se}.')
                     ] + GATE_RULES
            for pattern, replacement in rules:
                if re.match(pattern, rest):
                    rest = re.sub(pattern, replacement, rest)
                    break
            key = prefix + rest
        converted[key] = value
        if key.endswith('gate.threshold') or re.search(
                r'gates\.\d+\.threshold$', key):
            calibrated_key = key[:-len('threshold')] + 'calibrated'
            if calibrated_key not in state_dict:  # linear (old) threshold
                import torch
                trained = bool(value > 0)
                converted[key] = torch.log(value) if trained else \
                    torch.full_like(value, -50.)
                converted[calibrated_key] = torch.tensor(trained)
    return converted


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='search checkpoint (old keys)')
    parser.add_argument('dst', help='converted checkpoint to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch

    from autonl_mmseg.engine import allow_mmengine_checkpoint_globals
    allow_mmengine_checkpoint_globals()
    checkpoint = torch.load(args.src, map_location='cpu')
    for field in ('state_dict', 'ema_state_dict'):
        if field in checkpoint:
            checkpoint[field] = convert_keys(checkpoint[field])
    torch.save(checkpoint, args.dst)
    print(f'{args.dst}: {len(checkpoint.get("state_dict", {}))} tensors')


if __name__ == '__main__':
    main()
