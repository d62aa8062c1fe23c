"""The genotype format: one human-readable JSON file describes a whole network.

This module is the ONLY place where the format is read, validated and
written. The backbone (``AutoNLNet``), the search's decoder and the FLOPs
tools all go through :func:`load_genotype` / :func:`dump_genotype`.

Format (version 2)::

    {
      "format": "autonl-genotype",
      "version": 2,
      "name": "autonl-s",                  # optional
      "stem_channels": 32,
      "head_channels": 1280,
      "act": "Swish",                      # any MMCV activation type
      "blocks": [                          # one entry per MBConv block
        {"expand_ratio": 1, "out_channels": 16, "stride": 1, "kernel_size": 3,
         "se_ratio": 0, "non_local": null},
        {"expand_ratio": 3, "out_channels": 24, "stride": 2, "kernel_size": 3,
         "se_ratio": 0, "non_local": {"type": "LightNL", "channel_ratio": 0.25,
                                      "spatial_stride": 1}},
        ...
      ],
      "meta": {...}                        # optional, free-form
    }

``se_ratio`` 0 means no SE; otherwise the squeeze width is
``max(1, int(block_in_channels * se_ratio))``. ``non_local`` is ``null`` (no
non-local block) or the config of a registered non-local block placed after
the block's projection (``LightNL`` or a Table 1 row such as
``Eqn9NonLocal``): ``type`` plus that class's arguments; ``in_channels`` and
``norm_cfg`` come from the block.

Version 1 files (``"light_nl": {"channel_ratio": r, "spatial_stride": s}``
or ``null`` in every block) are read and upgraded to version 2 on load
(``light_nl`` -> ``non_local`` of type ``LightNL``); a genotype without a
``version`` is version 1 if its blocks have ``light_nl``. The writer always
writes version 2.

Shipped genotypes (``mobilenet-v2``, ``mobilenet-v2-lightnl``, ``autonl-s``,
``autonl-l``) are package data in ``autonl_mmseg/models/genotypes/`` and
are referred to by name from any directory.

Limits: a genotype file is at most ``MAX_FILE_BYTES`` of UTF-8 JSON with no
duplicate keys and only finite numbers (anywhere, ``meta`` included);
``act`` is an activation registered in MMEngine's ``MODELS`` (MMCV's
activations); ``kernel_size`` is odd in 1..``MAX_KERNEL_SIZE``;
``expand_ratio`` in 1..``MAX_EXPAND_RATIO``; channel counts in
1..``MAX_CHANNELS``; ``spatial_stride`` in 1..``MAX_SPATIAL_STRIDE``; at
most ``MAX_BLOCKS`` blocks and about ``MAX_PARAMS`` weights. A file outside
them is refused before any layer is built, so a typo can never allocate
gigabytes.
"""
import copy
import inspect
import json
import math
import os
import os.path as osp
import warnings

from mmengine.registry import MODELS

FORMAT_NAME = 'autonl-genotype'
FORMAT_VERSION = 2  # the version the writer writes
SUPPORTED_VERSIONS = (1, 2)
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
    'non_local': (dict, type(None)),
}
# version 1 had a LightNL-only field in place of ``non_local``
V1_BLOCK_FIELDS = dict(BLOCK_FIELDS)
V1_BLOCK_FIELDS['light_nl'] = V1_BLOCK_FIELDS.pop('non_local')
LIGHT_NL_FIELDS = {'channel_ratio': (int, float), 'spatial_stride': int}
# Sanity limits (see the module docstring). The paper's networks use kernels
# 3/5, expansions 1/3/6, at most 1280 channels, spatial strides 1/2 and
# about 5M weights; the limits leave room for larger searched networks.
MAX_FILE_BYTES = 1 << 20
MAX_KERNEL_SIZE = 11
MAX_EXPAND_RATIO = 8
MAX_CHANNELS = 4096
MAX_SPATIAL_STRIDE = 8
MAX_BLOCKS = 64
MAX_PARAMS = 100_000_000
# the package data directory of the shipped genotypes
SHIPPED_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'genotypes')


class GenotypeError(ValueError):
    """A genotype that does not follow the format; the message names the
    file, the block index and the field."""


class GenotypeMismatchError(GenotypeError):
    """Weights of one architecture loaded into a network of another; the
    message names both and their first difference."""


def _type_name(types):
    types = types if isinstance(types, tuple) else (types, )
    names = {int: 'int', float: 'number', str: 'str', dict: 'object',
             type(None): 'null'}
    return ' or '.join(names.get(t, t.__name__) for t in types)


class _JSONObject(dict):
    """A parsed JSON object that remembers a repeated key: ``json`` keeps
    the last value silently, which would quietly change the network."""
    duplicate_key = None


def _json_object(pairs):
    obj = _JSONObject()
    for key, value in pairs:
        if key in obj and obj.duplicate_key is None:
            obj.duplicate_key = key
        obj[key] = value
    return obj


def parse_genotype_text(data, source):
    """Decode the bytes of a genotype file into Python objects.

    Raises:
        GenotypeError: if the bytes are not UTF-8 JSON text.
    """
    if len(data) > MAX_FILE_BYTES:
        raise GenotypeError(f'{source}: {len(data)} bytes; a genotype file '
                            f'is at most {MAX_FILE_BYTES} bytes')
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        raise GenotypeError(
            f'{source}: not a UTF-8 text file (byte 0x{data[e.start]:02x} at '
            f'offset {e.start}); a genotype is a JSON text file') from None
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    # JSONDecodeError is a ValueError, as are over-long integers; deep
    # nesting exhausts the recursion limit
    except (ValueError, RecursionError) as e:
        raise GenotypeError(f'{source}: not valid JSON: {e}') from None


def _plain_copy(node):
    """A deep copy with plain dicts (no ``_JSONObject``: a genotype must
    pickle as builtin types only)."""
    if isinstance(node, dict):
        return {key: _plain_copy(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_plain_copy(value) for value in node)
    return copy.deepcopy(node)


def _json_location(path):
    """'top level', 'block 3', 'block 3: light_nl' or 'meta.search'."""
    if not path:
        return 'top level'
    if path[0] == 'blocks' and len(path) > 1:
        return ': '.join([f'block {path[1]}', *map(str, path[2:])])
    return '.'.join(map(str, path))


def _check_json_values(chk, node, path=()):
    """Refuse repeated keys and NaN/infinite numbers anywhere in the data."""
    if isinstance(node, dict):
        if getattr(node, 'duplicate_key', None) is not None:
            chk.fail(_json_location(path), node.duplicate_key,
                     'key given twice (a JSON object names each key once)')
        for key, value in node.items():
            _check_json_values(chk, value, (*path, key))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            _check_json_values(chk, value, (*path, index))
    elif isinstance(node, float) and not math.isfinite(node):
        chk.fail(_json_location(path[:-1]), path[-1] if path else '',
                 f'{node} is not a finite number')


def registered_activations():
    """Names of the activation layers in MMEngine's ``MODELS`` registry."""
    import mmcv.cnn  # noqa: F401  (registers MMCV's activations)
    from mmengine.registry import MODELS
    from torch import nn
    # MMCV registers torch.nn's activations and its own (Swish, HSwish, ...)
    # into the same registry as every other model part; an activation is an
    # element-wise module from one of these places.
    modules = ('torch.nn.modules.activation', 'mmcv.cnn.bricks.activation',
               'mmcv.cnn.bricks.swish', 'mmcv.cnn.bricks.hswish',
               'mmcv.cnn.bricks.hsigmoid')
    return sorted(
        name for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, nn.Module)
        and cls.__module__ in modules)


def _estimated_params(data):
    """Weights of the network a genotype describes, up to the small terms
    (BN, SE, LightNL's depthwise conv): the bound that keeps a typo from
    allocating gigabytes, not a report (``get_flops.py`` counts exactly)."""
    in_channels = data['stem_channels']
    total = 27 * in_channels
    for block in data['blocks']:
        hidden = in_channels * block['expand_ratio']
        total += hidden * (in_channels + block['kernel_size']**2 +
                           block['out_channels'])
        in_channels = block['out_channels']
    return total + in_channels * data['head_channels']


class _Checker:

    def __init__(self, source):
        self.source = source

    def check_range(self, where, field, value, low, high, what=''):
        if not low <= value <= high:
            self.fail(where, field, f'must be {what}in {low}..{high}, got '
                      f'{value}')

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


def non_local_types():
    """Names of the registered non-local blocks a genotype can place: the
    classes with a ``macs`` rule (which ``complexity.py`` looks up)."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if callable(getattr(cls, 'macs', None)))


def _check_non_local(chk, where, cfg):
    if 'type' not in cfg:
        chk.fail(where, 'type', 'missing field (the non-local block type, '
                 f'one of {", ".join(non_local_types())})')
    chk.check_type(where, 'type', cfg['type'], str)
    if cfg['type'] not in non_local_types():
        chk.fail(where, 'type', f'unknown non-local block {cfg["type"]!r} '
                 f'(registered: {", ".join(non_local_types())})')
    params = inspect.signature(MODELS.get(cfg['type'])).parameters
    # in_channels comes from the block; init_cfg is not architecture
    allowed = [p for p in params if p not in ('self', 'in_channels',
                                              'init_cfg')]
    chk.check_keys(where, {k: v for k, v in cfg.items() if k != 'type'},
                   [], allowed)
    for field, types in LIGHT_NL_FIELDS.items():
        if field in cfg:
            chk.check_type(where, field, cfg[field], types)
    if 'channel_ratio' in cfg and not 0 < cfg['channel_ratio'] <= 1:
        chk.fail(where, 'channel_ratio',
                 f'must be in (0, 1], got {cfg["channel_ratio"]}')
    if 'spatial_stride' in cfg:
        chk.check_range(where, 'spatial_stride', cfg['spatial_stride'], 1,
                        MAX_SPATIAL_STRIDE)


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
    _check_json_values(chk, data)
    data = _plain_copy(data)
    where = 'top level'
    chk.check_keys(where, data, list(GLOBAL_FIELDS) + ['blocks'],
                   OPTIONAL_GLOBAL_FIELDS)
    if data.get('format', FORMAT_NAME) != FORMAT_NAME:
        chk.fail(where, 'format', f'expected {FORMAT_NAME!r}, got '
                 f'{data["format"]!r}')
    version = data.get('version')
    if version is None:
        blocks = data.get('blocks')
        has_light_nl = isinstance(blocks, list) and any(
            isinstance(b, dict) and 'light_nl' in b for b in blocks)
        version = 1 if has_light_nl else FORMAT_VERSION
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        chk.fail(where, 'version', f'unsupported version {version!r} '
                 f'(supported: {SUPPORTED_VERSIONS})')
    data['version'] = FORMAT_VERSION  # a v1 genotype is upgraded below
    data['format'] = FORMAT_NAME
    for field, types in GLOBAL_FIELDS.items():
        chk.check_type(where, field, data[field], types)
    for field in ('stem_channels', 'head_channels'):
        if data[field] <= 0:
            chk.fail(where, field, f'must be positive, got {data[field]}')
        chk.check_range(where, field, data[field], 1, MAX_CHANNELS)
    activations = registered_activations()
    if data['act'] not in activations:
        chk.fail(where, 'act', f'unknown activation {data["act"]!r} (the '
                 f'registered ones: {", ".join(activations)})')
    if 'name' in data:
        chk.check_type(where, 'name', data['name'], str)
    if 'meta' in data and not isinstance(data['meta'], dict):
        chk.fail(where, 'meta', 'expected object')
    blocks = data['blocks']
    if not isinstance(blocks, list) or not blocks:
        chk.fail(where, 'blocks', 'expected a non-empty list of blocks')
    if len(blocks) > MAX_BLOCKS:
        chk.fail(where, 'blocks', f'{len(blocks)} blocks; at most '
                 f'{MAX_BLOCKS}')
    for i, block in enumerate(blocks):
        where = f'block {i}'
        if not isinstance(block, dict):
            raise GenotypeError(f'{source}: {where}: expected an object, got '
                                f'{type(block).__name__}')
        fields = V1_BLOCK_FIELDS if version == 1 else BLOCK_FIELDS
        chk.check_keys(where, block, fields)
        for field, types in fields.items():
            chk.check_type(where, field, block[field], types)
        if block['expand_ratio'] < 1:
            chk.fail(where, 'expand_ratio',
                     f'must be >= 1, got {block["expand_ratio"]}')
        chk.check_range(where, 'expand_ratio', block['expand_ratio'], 1,
                        MAX_EXPAND_RATIO)
        if block['out_channels'] <= 0:
            chk.fail(where, 'out_channels',
                     f'must be positive, got {block["out_channels"]}')
        chk.check_range(where, 'out_channels', block['out_channels'], 1,
                        MAX_CHANNELS)
        if block['stride'] not in (1, 2):
            chk.fail(where, 'stride', f'must be 1 or 2, got {block["stride"]}')
        if block['kernel_size'] <= 0 or block['kernel_size'] % 2 == 0:
            chk.fail(where, 'kernel_size', 'must be a positive odd number, '
                     f'got {block["kernel_size"]}')
        chk.check_range(where, 'kernel_size', block['kernel_size'], 1,
                        MAX_KERNEL_SIZE, 'odd and ')
        if not 0 <= block['se_ratio'] <= 1:
            chk.fail(where, 'se_ratio', 'must be in (0, 1] (or 0 for no SE), '
                     f'got {block["se_ratio"]}')
        if version == 1:
            light_nl = block.pop('light_nl')
            if light_nl is not None:
                chk.check_keys(f'block {i}: light_nl', light_nl,
                               LIGHT_NL_FIELDS)
                light_nl = dict(type='LightNL', **light_nl)
            block['non_local'] = light_nl
        if block['non_local'] is not None:
            where_nl = f'block {i}: ' + ('light_nl'
                                         if version == 1 else 'non_local')
            _check_non_local(chk, where_nl, block['non_local'])
    params = _estimated_params(data)
    if params > MAX_PARAMS:
        raise GenotypeError(
            f'{source}: about {params / 1e6:.0f}M weights; a genotype may '
            f'describe at most {MAX_PARAMS / 1e6:.0f}M (channels and '
            'expansions too large)')
    return data


def shipped_genotypes():
    """Names of the shipped genotypes (package data)."""
    return sorted(f[:-len('.json')] for f in os.listdir(SHIPPED_DIR)
                  if f.endswith('.json'))


def resolve_genotype_path(name_or_path):
    """A path as given, or the name of a shipped genotype ('autonl-s')."""
    if osp.isfile(name_or_path):
        return name_or_path
    name = osp.basename(name_or_path)
    name = name[:-len('.json')] if name.endswith('.json') else name
    if name in shipped_genotypes():
        shipped = osp.join(SHIPPED_DIR, f'{name}.json')
        if name_or_path in (name, f'{name}.json'):
            return shipped
        parent = osp.basename(osp.dirname(osp.normpath(name_or_path)))
        if parent == 'genotypes':
            # configs written when the files lived in configs/autonl/genotypes
            warnings.warn(
                f'genotype {name_or_path!r} does not exist; using the '
                f'shipped {name!r} (refer to shipped genotypes by name)',
                DeprecationWarning)
            return shipped
    raise FileNotFoundError(
        f'genotype file not found: {name_or_path!r} (neither a path nor one '
        f'of the shipped genotypes: {", ".join(shipped_genotypes())})')


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
    if osp.getsize(path) > MAX_FILE_BYTES:  # before reading it into memory
        raise GenotypeError(f'{path}: {osp.getsize(path)} bytes; a genotype '
                            f'file is at most {MAX_FILE_BYTES} bytes')
    with open(path, 'rb') as f:
        data = f.read(MAX_FILE_BYTES + 1)
    return validate_genotype(parse_genotype_text(data, path), path)


def to_plain(obj):
    """Config values as JSON-ready builtins (dicts, lists, numbers), e.g. a
    search config for a genotype's ``meta``."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


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


def genotype_label(genotype):
    """How messages name a genotype: its ``name``, or its size."""
    if genotype.get('name'):
        return repr(genotype['name'])
    return f'<unnamed, {len(genotype["blocks"])} blocks>'


def genotype_difference(genotype, other):
    """The first difference between the networks two genotypes build, as
    text (``'block 3: kernel_size 5 vs 3'``), or None when they build the
    same network (``name``, ``meta``, ``format`` and ``version`` do not
    count)."""
    for field in GLOBAL_FIELDS:
        if genotype[field] != other[field]:
            return f'{field} {genotype[field]!r} vs {other[field]!r}'
    blocks, other_blocks = genotype['blocks'], other['blocks']
    if len(blocks) != len(other_blocks):
        return f'{len(blocks)} vs {len(other_blocks)} blocks'
    for i, (block, other_block) in enumerate(zip(blocks, other_blocks)):
        for field in BLOCK_FIELDS:
            if block[field] != other_block[field]:
                return (f'block {i}: {field} {block[field]!r} vs '
                        f'{other_block[field]!r}')
    return None


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
