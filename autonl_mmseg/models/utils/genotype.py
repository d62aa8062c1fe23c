"""The genotype format: one human-readable JSON file describes a whole network.

This module is the ONLY place where the format is read, validated and
written. The backbone (``AutoNLNet``), the search's decoder and the FLOPs
tools all go through :func:`load_genotype` / :func:`dump_genotype`.

Format (version 1)::

    {
      "format": "autonl-genotype",
      "version": 1,
      "name": "autonl-s",                  # optional
      "stem_channels": 32,
      "head_channels": 1280,
      "act": "Swish",                      # any MMCV activation type
      "blocks": [                          # one entry per MBConv block
        {"expand_ratio": 1, "out_channels": 16, "stride": 1, "kernel_size": 3,
         "se_ratio": 0, "light_nl": null},
        {"expand_ratio": 3, "out_channels": 24, "stride": 2, "kernel_size": 3,
         "se_ratio": 0, "light_nl": {"channel_ratio": 0.25, "spatial_stride": 1}},
        ...
      ],
      "meta": {...}                        # optional, free-form (MACs, search cfg)
    }

``se_ratio`` 0 means no SE; otherwise the squeeze width is
``max(1, int(block_in_channels * se_ratio))``. ``light_nl`` is ``null`` (no
LightNL block) or the LightNL settings placed after the block's projection.
"""
import copy
import json
import os
import os.path as osp

FORMAT_NAME = 'autonl-genotype'
SUPPORTED_VERSIONS = (1, )
GLOBAL_FIELDS = {
    'stem_channels': int,
    'head_channels': int,
    'act': str,
}
OPTIONAL_GLOBAL_FIELDS = ('format', 'version', 'name', 'meta')
BLOCK_FIELDS = {
    'expand_ratio': (int, float),
    'out_channels': int,
    'stride': int,
    'kernel_size': int,
    'se_ratio': (int, float),
    'light_nl': (dict, type(None)),
}
LIGHT_NL_FIELDS = {'channel_ratio': (int, float), 'spatial_stride': int}
REPO_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SHIPPED_DIR = osp.join(REPO_ROOT, 'configs', 'autonl', 'genotypes')


class GenotypeError(ValueError):
    """A genotype that does not follow the format; the message names the
    file, the block index and the field."""


def _type_name(types):
    types = types if isinstance(types, tuple) else (types, )
    names = {int: 'int', float: 'number', str: 'str', dict: 'object',
             type(None): 'null'}
    return ' or '.join(names.get(t, t.__name__) for t in types)


class _Checker:

    def __init__(self, source):
        self.source = source

    def fail(self, where, field, problem):
        raise GenotypeError(f'{self.source}: {where}: field {field!r}: '
                            f'{problem}')

    def check_keys(self, where, data, fields, optional=()):
        for key in data:
            if key not in fields and key not in optional:
                self.fail(where, key, f'unknown key (allowed: '
                          f'{", ".join(list(fields) + list(optional))})')
        for key in fields:
            if key not in data:
                self.fail(where, key, 'missing field')

    def check_type(self, where, field, value, types):
        types_t = types if isinstance(types, tuple) else (types, )
        # bool is an int subclass in Python; it is never a valid number here.
        if isinstance(value, bool) or not isinstance(value, types_t):
            self.fail(where, field, f'expected {_type_name(types)}, got '
                      f'{type(value).__name__} {value!r}')


def validate_genotype(data, source='<dict>'):
    """Check a genotype dict and return a normalised deep copy.

    Raises:
        GenotypeError: on the first bad value, naming ``source``, the block
            index and the field.
    """
    chk = _Checker(source)
    if not isinstance(data, dict):
        raise GenotypeError(f'{source}: the genotype must be a JSON object, '
                            f'got {type(data).__name__}')
    data = copy.deepcopy(data)
    where = 'top level'
    chk.check_keys(where, data, list(GLOBAL_FIELDS) + ['blocks'],
                   OPTIONAL_GLOBAL_FIELDS)
    if data.get('format', FORMAT_NAME) != FORMAT_NAME:
        chk.fail(where, 'format', f'expected {FORMAT_NAME!r}, got '
                 f'{data["format"]!r}')
    version = data.setdefault('version', 1)
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        chk.fail(where, 'version', f'unsupported version {version!r} '
                 f'(supported: {SUPPORTED_VERSIONS})')
    data['format'] = FORMAT_NAME
    for field, types in GLOBAL_FIELDS.items():
        chk.check_type(where, field, data[field], types)
    for field in ('stem_channels', 'head_channels'):
        if data[field] <= 0:
            chk.fail(where, field, f'must be positive, got {data[field]}')
    if 'meta' in data and not isinstance(data['meta'], dict):
        chk.fail(where, 'meta', 'expected object')
    blocks = data['blocks']
    if not isinstance(blocks, list) or not blocks:
        chk.fail(where, 'blocks', 'expected a non-empty list of blocks')
    for i, block in enumerate(blocks):
        where = f'block {i}'
        if not isinstance(block, dict):
            raise GenotypeError(f'{source}: {where}: expected an object, got '
                                f'{type(block).__name__}')
        chk.check_keys(where, block, BLOCK_FIELDS)
        for field, types in BLOCK_FIELDS.items():
            chk.check_type(where, field, block[field], types)
        if block['expand_ratio'] < 1:
            chk.fail(where, 'expand_ratio',
                     f'must be >= 1, got {block["expand_ratio"]}')
        if block['out_channels'] <= 0:
            chk.fail(where, 'out_channels',
                     f'must be positive, got {block["out_channels"]}')
        if block['stride'] not in (1, 2):
            chk.fail(where, 'stride', f'must be 1 or 2, got {block["stride"]}')
        if block['kernel_size'] <= 0 or block['kernel_size'] % 2 == 0:
            chk.fail(where, 'kernel_size', 'must be a positive odd number, '
                     f'got {block["kernel_size"]}')
        if not 0 <= block['se_ratio'] <= 1:
            chk.fail(where, 'se_ratio', 'must be in (0, 1] (or 0 for no SE), '
                     f'got {block["se_ratio"]}')
        light_nl = block['light_nl']
        if light_nl is not None:
            where_nl = f'block {i}: light_nl'
            chk.check_keys(where_nl, light_nl, LIGHT_NL_FIELDS)
            for field, types in LIGHT_NL_FIELDS.items():
                chk.check_type(where_nl, field, light_nl[field], types)
            if not 0 < light_nl['channel_ratio'] <= 1:
                chk.fail(where_nl, 'channel_ratio', 'must be in (0, 1], got '
                         f'{light_nl["channel_ratio"]}')
            if light_nl['spatial_stride'] < 1:
                chk.fail(where_nl, 'spatial_stride',
                         f'must be >= 1, got {light_nl["spatial_stride"]}')
    return data


def resolve_genotype_path(name_or_path):
    """A path as given, or the name of a shipped genotype ('autonl-s')."""
    if osp.isfile(name_or_path):
        return name_or_path
    # configs name shipped files relative to the repository root
    repo_relative = osp.join(REPO_ROOT, name_or_path)
    if not osp.isabs(name_or_path) and osp.isfile(repo_relative):
        return repo_relative
    shipped = osp.join(SHIPPED_DIR, name_or_path)
    for candidate in (shipped, shipped + '.json'):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'genotype file not found: {name_or_path!r} (neither a path nor one '
        f'of the shipped genotypes in {SHIPPED_DIR}: '
        f'{sorted(f[:-5] for f in os.listdir(SHIPPED_DIR))})'
        if osp.isdir(SHIPPED_DIR) else
        f'genotype file not found: {name_or_path!r}')


def load_genotype(genotype):
    """Load and validate a genotype.

    Args:
        genotype (str | dict): a path to a JSON file, the name of a shipped
            genotype (e.g. ``'autonl-s'``), or an inline dict.

    Returns:
        dict: the validated genotype.
    """
    if isinstance(genotype, dict):
        return validate_genotype(genotype, '<inline genotype>')
    if not isinstance(genotype, (str, os.PathLike)):
        raise GenotypeError('genotype must be a path, a shipped name or a '
                            f'dict, got {type(genotype).__name__}')
    path = resolve_genotype_path(str(genotype))
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise GenotypeError(f'{path}: not valid JSON: {e}') from None
    return validate_genotype(data, path)


def dump_genotype(genotype, path=None):
    """Write a genotype as JSON with one block per line; return the text."""
    data = validate_genotype(genotype, str(path or '<genotype to write>'))
    head = {k: data[k] for k in ('format', 'version', 'name') if k in data}
    head.update({k: data[k] for k in GLOBAL_FIELDS})
    lines = ['{']
    lines += [f'  {json.dumps(k)}: {json.dumps(v)},' for k, v in head.items()]
    lines.append('  "blocks": [')
    blocks = [
        '    ' + json.dumps({k: b[k] for k in BLOCK_FIELDS})
        for b in data['blocks']
    ]
    lines.append(',\n'.join(blocks))
    lines.append('  ]' + (',' if 'meta' in data else ''))
    if 'meta' in data:
        meta = json.dumps(data['meta'], indent=2, sort_keys=True)
        lines.append('  "meta": ' + meta.replace('\n', '\n  '))
    lines.append('}')
    text = '\n'.join(lines) + '\n'
    if path is not None:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)  # never leave a half-written genotype behind
    return text


def stage_boundaries(blocks):
    """Group blocks into stages: a stage starts at a stride-2 block or a
    change of output channels. Returns a list of lists of block indices."""
    stages = []
    for i, block in enumerate(blocks):
        if (not stages or block['stride'] == 2
                or block['out_channels'] != blocks[i - 1]['out_channels']):
            stages.append([])
        stages[-1].append(i)
    return stages
