# Copyright (c) autonl_mmseg contributors.
"""Write the genotype of a checkpoint as a genotype file.

    python tools/export_genotype.py CHECKPOINT OUT [--name NAME]
    python tools/export_genotype.py CONFIG CHECKPOINT OUT [--name NAME]
        [--cfg-options ...]

Any checkpoint of ours says what it is: ``meta['genotype']`` (written by
``GenotypeMetaHook`` at every checkpoint; a search checkpoint holds the
architecture decoded at that iteration) or, for weights saved otherwise,
the backbone's ``architecture`` buffer. With a search CONFIG, a search
checkpoint (``epoch_N.pth``, ``iter_N.pth``) is decoded from its weights
instead, with MACs, params and the search settings in ``meta``. OUT is in
the format of the shipped genotypes and trains with any AutoNLNet config:
``--cfg-options model.backbone.genotype=OUT``.
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
        description='Write the genotype of a checkpoint as a genotype file',
        usage='%(prog)s [CONFIG] CHECKPOINT OUT [--name NAME] '
        '[--cfg-options ...]')
    parser.add_argument(
        'paths', nargs='+', metavar='[CONFIG] CHECKPOINT OUT',
        help='CONFIG (a search config: decode the search checkpoint from '
        'its weights), the checkpoint, the genotype JSON to write')
    parser.add_argument(
        '--name', default=None,
        help='"name" field of the genotype (default: the checkpoint\'s; '
        "'autonl-search' for a decoded search)")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    args = parser.parse_args(argv)
    if len(args.paths) not in (2, 3):
        parser.error('give CHECKPOINT OUT or CONFIG CHECKPOINT OUT')
    args.config = args.paths[0] if len(args.paths) == 3 else None
    args.checkpoint, args.out = args.paths[-2:]
    return args


def decode_search(args):
    """The architecture of a search checkpoint, decoded from its weights by
    the search config's model."""
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(config_scope(cfg))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'export_genotype'):
        fail(f'{args.config} is not a search config (model type '
             f'{type(model).__name__}); leave out CONFIG to read the '
             'genotype stored in the checkpoint')
    checkpoint = load_checkpoint(model, args.checkpoint, map_location='cpu',
                                 strict=True)
    meta = checkpoint.get('meta', {})
    model.eval()
    return model.export_genotype(
        args.name or 'autonl-search',
        meta=dict(config=args.config, checkpoint=args.checkpoint,
                  iter=meta.get('iter'), epoch=meta.get('epoch')))


def stored_genotype(path):
    """The genotype a checkpoint carries (meta, else the architecture
    buffer of its backbone)."""
    from mmengine.runner import CheckpointLoader

    from autonl_mmseg.models.backbones.mbconv_net import find_architecture
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    genotype = (checkpoint.get('meta') or {}).get('genotype')
    if genotype is not None:
        return genotype
    state_dict = checkpoint.get('state_dict', checkpoint)
    architecture = find_architecture(state_dict) or {}
    if 'genotype' in architecture:
        return architecture['genotype']
    if 'search_space' in architecture:
        fail(f'{path} is a search checkpoint without a genotype in its '
             'meta: give the search config first (CONFIG CHECKPOINT OUT) '
             'to decode it')
    fail(f'{path} holds no genotype (not a checkpoint of an AutoNLNet '
         'network)')


def main(argv=None):
    args = parse_args(argv)
    check_checkpoint(args.checkpoint)
    from autonl_mmseg.models.utils.genotype import dump_genotype
    from autonl_mmseg.search.hooks import genotype_summary
    if args.config is not None:
        genotype = decode_search(args)
    else:
        genotype = stored_genotype(args.checkpoint)
        if args.name:
            genotype['name'] = args.name
    dump_genotype(genotype, args.out)
    blocks = genotype['blocks']
    print(f'{args.out}: genotype {genotype.get("name")!r}, {len(blocks)} '
          f'blocks, {sum(b["non_local"] is not None for b in blocks)} '
          'non-local')
    info = genotype.get('meta', {})
    if 'macs' in info:
        print(f'{info["macs"] / 1e6:.1f}M MACs at {info["macs_input_size"]}'
              f', {info["params"] / 1e6:.2f}M params')
    print(genotype_summary(genotype))
    return genotype


if __name__ == '__main__':
    run_cli(main)
