# Copyright (c) autonl_mmseg contributors.
"""Decode a search checkpoint into a genotype file.

    python tools/export_genotype.py CONFIG CHECKPOINT OUT [--name NAME]
        [--cfg-options ...]

CONFIG is the search config (e.g. configs/autonl/autonl_search_in1k.py),
CHECKPOINT any checkpoint of that search (``epoch_N.pth``, ``iter_N.pth``),
OUT the genotype JSON to write (the format of the shipped genotypes,
with MACs, params and the search settings in ``meta``). The result trains
with any AutoNLNet config: ``--cfg-options model.backbone.genotype=OUT``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

import autonl_mmseg  # noqa: F401,E402
from autonl_mmseg.engine.cli import run_cli  # noqa: E402
from autonl_mmseg.engine.launch import (check_checkpoint,  # noqa: E402
                                        config_scope, fail, load_config)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Decode a search checkpoint into a genotype file')
    parser.add_argument('config', help='search config file')
    parser.add_argument('checkpoint', help='search checkpoint')
    parser.add_argument('out', help='genotype JSON to write')
    parser.add_argument('--name', default='autonl-search',
                        help='"name" field of the genotype')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint(args.checkpoint)
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    from autonl_mmseg.models.utils.genotype import dump_genotype
    from autonl_mmseg.search.hooks import genotype_summary
    init_default_scope(config_scope(cfg))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'export_genotype'):
        fail(f'{args.config} is not a search config (model type '
             f'{type(model).__name__})')
    checkpoint = load_checkpoint(model, args.checkpoint, map_location='cpu',
                                 strict=True)
    meta = checkpoint.get('meta', {})
    model.eval()
    genotype = model.export_genotype(
        args.name,
        meta=dict(config=args.config, checkpoint=args.checkpoint,
                  iter=meta.get('iter'), epoch=meta.get('epoch')))
    dump_genotype(genotype, args.out)
    info = genotype['meta']
    print(f'{args.out}: {info["num_blocks"]} blocks, {info["num_light_nl"]} '
          f'LightNL, {info["macs"] / 1e6:.1f}M MACs at '
          f'{info["macs_input_size"]}, {info["params"] / 1e6:.2f}M params')
    print(genotype_summary(genotype))
    return genotype


if __name__ == '__main__':
    run_cli(main)
