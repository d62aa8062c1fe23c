"""The search space: a small dict in the config, validated in one place.

The default is Single-Path NAS' MobileNetV2-like macro space with AutoNL's
LightNL candidates::

    stem 32 -> [e1 k3 16] -> 4 x 24 (s2) -> 4 x 40 (s2) -> 4 x 80 (s2)
            -> 4 x 96 (s1) -> 4 x 192 (s2) -> 1 x 320 (s1) -> head 1280

Every block but the first chooses a kernel in ``kernel_sizes``, an
expansion in ``expand_ratios`` and an SE ratio in ``se_ratios`` (0 = no SE)
and carries a searchable LightNL; blocks after the first of their stage may
be skipped. The published AutoNL-S and AutoNL-L are points of this space
(SE 0, 0.25 and 0.5 occur in both). Per stage, any of ``kernel_sizes``,
``expand_ratios``, ``se_ratios`` (``se_ratio``: one fixed value),
``skippable`` and ``light_nl`` (False: no LightNL candidate) can be
overridden. The first block of a stage is never skipped, so a decoded
network always has one stage per entry of ``stages`` (7 by default: the
DeepLabV3 configs' ``out_indices=(1, 2, 4, 6)`` rely on that).
"""
import copy

DEFAULT_SEARCH_SPACE = dict(
    stem_channels=32,
    head_channels=1280,
    act='Swish',
    kernel_sizes=(3, 5),
    expand_ratios=(3, 6),
    se_ratios=(0, 0.25, 0.5),
    # LightNL candidates (Eqn 11-13): the reference is the largest channel
    # ratio at spatial stride 1.
    light_nl=dict(channel_ratios=(0.125, 0.25, 0.5), spatial_strides=(2, 1)),
    stages=[
        dict(out_channels=16, num_blocks=1, stride=1, kernel_sizes=(3, ),
             expand_ratios=(1, ), se_ratios=(0, ), light_nl=False),
        dict(out_channels=24, num_blocks=4, stride=2),
        dict(out_channels=40, num_blocks=4, stride=2),
        dict(out_channels=80, num_blocks=4, stride=2),
        dict(out_channels=96, num_blocks=4, stride=1),
        dict(out_channels=192, num_blocks=4, stride=2),
        dict(out_channels=320, num_blocks=1, stride=1),
    ])

STAGE_KEYS = ('out_channels', 'num_blocks', 'stride', 'kernel_sizes',
              'expand_ratios', 'se_ratios', 'se_ratio', 'skippable',
              'light_nl')
SPACE_KEYS = ('stem_channels', 'head_channels', 'act', 'kernel_sizes',
              'expand_ratios', 'se_ratios', 'light_nl', 'stages')


class SearchSpaceError(ValueError):
    """A search space that cannot be built; the message names the field."""


def _sorted_choices(where, name, values, cast):
    if isinstance(values, (int, float)):
        values = (values, )
    if not values:
        raise SearchSpaceError(f'{where}: {name} must not be empty')
    values = tuple(sorted(cast(v) for v in values))
    if len(set(values)) != len(values):
        raise SearchSpaceError(f'{where}: {name} has duplicates: {values}')
    return values


def build_search_space(search_space=None):
    """Validate a search-space dict and expand it into one spec per block.

    Args:
        search_space (dict, optional): keys of :data:`DEFAULT_SEARCH_SPACE`;
            missing keys take the defaults. None: the default space.

    Returns:
        dict: ``definition`` (the merged space dict), the global fields,
        ``light_nl`` (sorted candidate lists:
        ``channel_ratios`` ascending, ``spatial_strides`` descending, i.e.
        most compact first and the reference last) and ``blocks``: a list of
        dicts (``stage``, ``in_channels``, ``out_channels``, ``stride``,
        ``kernel_sizes``, ``expand_ratios``, ``se_ratios``, ``skippable``,
        ``light_nl``).
    """
    space = copy.deepcopy(DEFAULT_SEARCH_SPACE)
    for key, value in dict(search_space or {}).items():
        if key not in SPACE_KEYS:
            raise SearchSpaceError(f'search_space: unknown key {key!r} '
                                   f'(allowed: {", ".join(SPACE_KEYS)})')
        space[key] = copy.deepcopy(value)

    nl = dict(space['light_nl'] or {})
    unknown = set(nl) - {'channel_ratios', 'spatial_strides'}
    if unknown:
        raise SearchSpaceError(f'search_space.light_nl: unknown keys '
                               f'{sorted(unknown)}')
    ratios = _sorted_choices('search_space.light_nl', 'channel_ratios',
                             nl.get('channel_ratios', (0.25, )), float)
    strides = _sorted_choices('search_space.light_nl', 'spatial_strides',
                              nl.get('spatial_strides', (1, )), int)
    if not all(0 < r <= 1 for r in ratios):
        raise SearchSpaceError('search_space.light_nl.channel_ratios must be '
                               f'in (0, 1], got {ratios}')
    if strides[0] != 1:
        # the reference affinity (Eqn 12's x_gt) is the full-resolution one
        raise SearchSpaceError('search_space.light_nl.spatial_strides must '
                               f'contain 1 (the reference), got {strides}')
    light_nl = dict(channel_ratios=ratios,
                    spatial_strides=tuple(reversed(strides)))

    for field in ('stem_channels', 'head_channels'):
        if not isinstance(space[field], int) or space[field] <= 0:
            raise SearchSpaceError(f'search_space.{field} must be a positive '
                                   f'int, got {space[field]!r}')
    stages = space['stages']
    if not isinstance(stages, (list, tuple)) or not stages:
        raise SearchSpaceError('search_space.stages must be a non-empty list')

    blocks = []
    in_channels = space['stem_channels']
    for stage_index, stage in enumerate(stages):
        where = f'search_space.stages[{stage_index}]'
        unknown = set(stage) - set(STAGE_KEYS)
        if unknown:
            raise SearchSpaceError(f'{where}: unknown keys {sorted(unknown)}'
                                   f' (allowed: {", ".join(STAGE_KEYS)})')
        for field in ('out_channels', 'num_blocks', 'stride'):
            if field not in stage:
                raise SearchSpaceError(f'{where}: missing {field!r}')
        out_channels, num_blocks = stage['out_channels'], stage['num_blocks']
        if not isinstance(num_blocks, int) or num_blocks < 1:
            raise SearchSpaceError(f'{where}: num_blocks must be >= 1')
        if stage['stride'] not in (1, 2):
            raise SearchSpaceError(f'{where}: stride must be 1 or 2')
        if stage_index > 0 and stage['stride'] == 1 and \
                out_channels == stages[stage_index - 1]['out_channels']:
            # stage_boundaries() would merge it into the previous stage
            raise SearchSpaceError(
                f'{where}: a stage must start with stride 2 or a change of '
                'out_channels')
        kernels = _sorted_choices(where, 'kernel_sizes',
                                  stage.get('kernel_sizes',
                                            space['kernel_sizes']), int)
        if any(k % 2 == 0 or k < 1 for k in kernels):
            raise SearchSpaceError(f'{where}: kernel sizes must be odd')
        expands = _sorted_choices(where, 'expand_ratios',
                                  stage.get('expand_ratios',
                                            space['expand_ratios']), float)
        if expands[0] < 1 or (1 in expands and len(expands) > 1):
            raise SearchSpaceError(
                f'{where}: expand_ratios must be >= 1, and 1 (no expansion '
                f'conv) can only be the single choice, got {expands}')
        if 'se_ratio' in stage and 'se_ratios' in stage:
            raise SearchSpaceError(f'{where}: give se_ratio (fixed) or '
                                   'se_ratios (searched), not both')
        se_ratios = _sorted_choices(
            where, 'se_ratios',
            stage.get('se_ratio', stage.get('se_ratios',
                                            space['se_ratios'])), float)
        if not all(0 <= r <= 1 for r in se_ratios):
            raise SearchSpaceError(f'{where}: SE ratios must be in [0, 1]')
        skippable = stage.get('skippable', True)
        with_light_nl = stage.get('light_nl', True)
        for i in range(num_blocks):
            stride = stage['stride'] if i == 0 else 1
            blocks.append(
                dict(stage=stage_index,
                     in_channels=in_channels,
                     out_channels=out_channels,
                     stride=stride,
                     kernel_sizes=kernels,
                     expand_ratios=tuple(
                         int(e) if float(e).is_integer() else e
                         for e in expands),
                     se_ratios=tuple(
                         int(r) if float(r).is_integer() else r
                         for r in se_ratios),
                     # Single-Path NAS: only non-first blocks of a stage
                     # (stride 1, in == out, so a residual exists).
                     skippable=bool(skippable and i > 0),
                     light_nl=light_nl if with_light_nl else None))
            in_channels = out_channels
    return dict(
        definition=space,
        stem_channels=space['stem_channels'],
        head_channels=space['head_channels'],
        act=space['act'],
        light_nl=light_nl,
        num_stages=len(stages),
        blocks=blocks)
