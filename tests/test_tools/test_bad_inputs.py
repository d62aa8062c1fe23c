"""One line for every bad input: a fuzz of malformed genotypes through the
tools (each must end with exactly one ``error: ...`` line naming the file,
exit code 2, no traceback, no hang, no memory blow-up, and none accepted),
plus missing checkpoints and the ``--debug`` switch."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, cls_data_options, run_tool

GET_FLOPS = 'tools/analysis_tools/get_flops.py'
TRAIN = 'tools/train.py'
TEST = 'tools/test.py'
CLS = 'configs/autonl/toy/mobilenet-v2_toy-in1k.py'
SEG = 'configs/autonl/toy/deeplabv3_mobilenet-v2_toy-voc.py'
MAX_CPU_SECONDS_PER_CASE = 20  # CPU time: the machine may be shared
MAX_MEMORY_GROWTH_MB = 400


def shipped():
    return json.loads((ROOT / 'autonl_mmseg/models/genotypes/autonl-s.json')
                      .read_text())


def block_set(index, field, value, nested=None):
    def mutate(geno):
        block = geno['blocks'][index]
        target = block[nested] if nested else block
        target[field] = value
    return mutate


def top_set(field, value):
    def mutate(geno):
        geno[field] = value
    return mutate


def text_of(mutate):
    geno = shipped()
    mutate(geno)
    return json.dumps(geno)


def replace_text(old, new, count=1):
    """Edit the JSON text (for what json.dumps cannot write)."""
    def edit():
        text = (ROOT / 'autonl_mmseg/models/genotypes/autonl-s.json').read_text()
        assert old in text, old
        return text.replace(old, new, count)
    return edit


BLOCK = '{"expand_ratio": 3, "out_channels": 24, "stride": 1'  # block 2


def huge_network(geno):
    for block in geno['blocks']:
        block.update(out_channels=4096, expand_ratio=8)
    geno['head_channels'] = 4096


def many_blocks(geno):
    geno['blocks'] = geno['blocks'] * 6


# id -> bytes or text of the file (a callable makes it)
GENOTYPES = {
    # the cases of the issue
    'expand_nan': replace_text(BLOCK, BLOCK.replace('3', 'NaN', 1)),
    'expand_infinity': replace_text(BLOCK, BLOCK.replace('3', 'Infinity', 1)),
    'expand_minus_infinity': replace_text(BLOCK,
                                          BLOCK.replace('3', '-Infinity', 1)),
    'act_foo': lambda: text_of(top_set('act', 'Foo')),
    'binary_file': lambda: bytes(range(256)) * 16,
    'out_channels_1e9': lambda: text_of(block_set(4, 'out_channels',
                                                  1000000000)),
    'expand_ratio_1e6': lambda: text_of(block_set(4, 'expand_ratio', 1e6)),
    'duplicate_stride_key': replace_text(
        BLOCK, BLOCK.replace('"stride": 1', '"stride": 2, "stride": 1')),
    'spatial_stride_1000': lambda: text_of(
        block_set(1, 'spatial_stride', 1000, nested='non_local')),
    'kernel_size_99': lambda: text_of(block_set(3, 'kernel_size', 99)),
    'head_channels_1e9': lambda: text_of(top_set('head_channels',
                                                 1000000000)),
    # non-finite numbers anywhere
    'expand_1e999': replace_text(BLOCK, BLOCK.replace('3', '1e999', 1)),
    'head_channels_nan': replace_text('"head_channels": 1280',
                                      '"head_channels": NaN'),
    'meta_nan': lambda: text_of(top_set('meta', dict(macs=float('nan')))),
    'meta_deep_infinity': lambda: text_of(top_set(
        'meta', dict(search=dict(costs=[1.0, float('inf')])))),
    'channel_ratio_nan': lambda: text_of(
        block_set(1, 'channel_ratio', float('nan'), nested='non_local')),
    # duplicate keys anywhere
    'duplicate_top_level_act': replace_text(
        '"act": "Swish"', '"act": "ReLU", "act": "Swish"'),
    'duplicate_light_nl_key': replace_text(
        '"channel_ratio": 0.25',
        '"channel_ratio": 0.5, "channel_ratio": 0.25'),
    'duplicate_blocks': replace_text('"blocks": [',
                                     '"blocks": [], "blocks": ['),
    # activations
    'act_not_an_activation': lambda: text_of(top_set('act', 'Conv2d')),
    'act_empty': lambda: text_of(top_set('act', '')),
    'act_int': lambda: text_of(top_set('act', 3)),
    # bounds and types
    'kernel_size_13': lambda: text_of(block_set(3, 'kernel_size', 13)),
    'kernel_size_even': lambda: text_of(block_set(3, 'kernel_size', 4)),
    'kernel_size_zero': lambda: text_of(block_set(3, 'kernel_size', 0)),
    'kernel_size_negative': lambda: text_of(block_set(3, 'kernel_size', -3)),
    'stride_3': lambda: text_of(block_set(2, 'stride', 3)),
    'stride_string': lambda: text_of(block_set(2, 'stride', '2')),
    'stride_bool': lambda: text_of(block_set(2, 'stride', True)),
    'out_channels_zero': lambda: text_of(block_set(6, 'out_channels', 0)),
    'out_channels_negative': lambda: text_of(block_set(6, 'out_channels',
                                                       -8)),
    'out_channels_float': lambda: text_of(block_set(6, 'out_channels', 24.5)),
    'out_channels_10000_digits': replace_text(
        '"out_channels": 16', '"out_channels": ' + '9' * 10000),
    'expand_ratio_zero': lambda: text_of(block_set(4, 'expand_ratio', 0)),
    'expand_ratio_8.5': lambda: text_of(block_set(4, 'expand_ratio', 8.5)),
    'se_ratio_1.2': lambda: text_of(block_set(7, 'se_ratio', 1.2)),
    'se_ratio_negative': lambda: text_of(block_set(7, 'se_ratio', -0.1)),
    'channel_ratio_1.5': lambda: text_of(
        block_set(1, 'channel_ratio', 1.5, nested='non_local')),
    'channel_ratio_zero': lambda: text_of(
        block_set(1, 'channel_ratio', 0, nested='non_local')),
    'spatial_stride_zero': lambda: text_of(
        block_set(1, 'spatial_stride', 0, nested='non_local')),
    'spatial_stride_float': lambda: text_of(
        block_set(1, 'spatial_stride', 2.0, nested='non_local')),
    'stem_channels_zero': lambda: text_of(top_set('stem_channels', 0)),
    'stem_channels_1e9': lambda: text_of(top_set('stem_channels',
                                                 1000000000)),
    'too_many_blocks': lambda: text_of(many_blocks),
    'too_many_weights': lambda: text_of(huge_network),
    # structure
    'unknown_block_key': lambda: text_of(block_set(3, 'colour', 1)),
    'missing_block_field': lambda: text_of(
        lambda g: g['blocks'][5].pop('kernel_size')),
    'light_nl_extra_key': lambda: text_of(
        block_set(1, 'extra', 0, nested='non_local')),
    'light_nl_list': lambda: text_of(block_set(1, 'non_local', [0.25, 1])),
    'block_not_object': lambda: text_of(
        lambda g: g['blocks'].__setitem__(2, 7)),
    'blocks_empty': lambda: text_of(top_set('blocks', [])),
    'blocks_not_list': lambda: text_of(top_set('blocks', {})),
    'blocks_missing': lambda: text_of(lambda g: g.pop('blocks')),
    'top_level_list': lambda: '[]',
    'version_3': lambda: text_of(top_set('version', 3)),
    'format_wrong': lambda: text_of(top_set('format', 'other')),
    'name_not_string': lambda: text_of(top_set('name', 5)),
    'meta_not_object': lambda: text_of(top_set('meta', 'x')),
    # not JSON text
    'empty_file': lambda: b'',
    'truncated_json': lambda: text_of(lambda g: None)[:300],
    'deep_nesting': lambda: '[' * 200000,
    'utf16_text': lambda: text_of(lambda g: None).encode('utf-16'),
    'latin1_byte': lambda: text_of(lambda g: None).replace(
        'autonl-s', 'autonl-\xe9').encode('latin-1'),
    'nul_bytes': lambda: text_of(lambda g: None).replace(', ', ',\x00 ', 1),
    'two_megabytes': lambda: text_of(top_set('meta', dict(x='y' * 2**21))),
}


def write_genotypes(directory):
    paths = {}
    for name, make in GENOTYPES.items():
        data = make()
        path = directory / f'{name}.json'
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        paths[name] = path
    paths['missing_file'] = directory / 'no_such_genotype.json'
    (directory / 'a_directory.json').mkdir()
    paths['directory'] = directory / 'a_directory.json'
    return paths


def drive(cases, tmp_path, timeout=900):
    """Run the cases in one process (tests/test_tools/tool_driver.py)."""
    cases_file, results_file = tmp_path / 'cases.json', tmp_path / 'out.json'
    cases_file.write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, 'tests/test_tools/tool_driver.py', str(cases_file),
         str(results_file)], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS='1',
                                  MKL_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(results_file.read_text())


def assert_one_line_error(result, *needles):
    lines = [line for line in result['stderr'].splitlines() if line.strip()]
    assert result['code'] == 2, result
    assert len(lines) == 1 and lines[0].startswith('error: '), result
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_malformed_genotypes_give_one_line_each(tmp_path):
    paths = write_genotypes(tmp_path)
    flops = [CLS, '--shape', '32', '--cfg-options']
    cases = [dict(id='valid', tool=GET_FLOPS,
                  argv=[*flops, 'model.backbone.genotype=autonl-s'])]
    cases += [dict(id=name, tool=GET_FLOPS,
                   argv=[*flops, f'model.backbone.genotype={path}'])
              for name, path in paths.items()]
    report = drive(cases, tmp_path)
    results = report['results']
    assert results[0]['code'] == 0, results[0]  # the tool works at all
    bad = results[1:]
    assert len(bad) >= 40
    accepted = [r['id'] for r in bad if r['code'] == 0]
    tracebacks = [r['id'] for r in bad if 'Traceback' in r['stderr']]
    one_line = []
    for result, path in zip(bad, paths.values()):
        lines = [line for line in result['stderr'].splitlines() if line]
        if result['code'] == 2 and len(lines) == 1 and \
                lines[0].startswith('error: ') and str(path) in lines[0]:
            one_line.append(result['id'])
    slow = [(r['id'], round(r['cpu_seconds'], 1)) for r in bad
            if r['cpu_seconds'] > MAX_CPU_SECONDS_PER_CASE]
    print(f'\n{len(bad)} malformed genotypes: {len(one_line)} one-line '
          f'errors, {len(accepted)} accepted silently, {len(tracebacks)} '
          f'tracebacks; slowest {max(r["cpu_seconds"] for r in bad):.2f} s '
          f'CPU; memory growth {report["growth_mb"]:.0f} MB')
    for result in bad:
        print(f'  {result["id"]}: {result["stderr"].strip()[:160]}')
    assert not accepted, accepted
    assert not tracebacks, tracebacks
    assert len(one_line) == len(bad), \
        [r for r in bad if r['id'] not in one_line][:3]
    assert not slow, slow
    assert report['growth_mb'] < MAX_MEMORY_GROWTH_MB, report['growth_mb']


def test_genotype_errors_name_block_and_field(tmp_path):
    from autonl_mmseg.models.utils.genotype import (MAX_KERNEL_SIZE,
                                                    GenotypeError,
                                                    load_genotype)
    paths = write_genotypes(tmp_path)
    expected = {
        'duplicate_stride_key': ["block 2", "'stride'", 'twice'],
        'expand_nan': ["block 2", "'expand_ratio'", 'nan'],
        'meta_deep_infinity': ['meta.search.costs', 'inf'],
        'act_foo': ["'act'", "'Foo'", 'Swish', 'ReLU', 'HSwish'],
        'kernel_size_99': ["block 3", "'kernel_size'",
                           f'1..{MAX_KERNEL_SIZE}'],
        'spatial_stride_1000': ["block 1: non_local", "'spatial_stride'"],
        'binary_file': ['not a UTF-8 text file'],
        'too_many_weights': ['weights'],
    }
    for name, words in expected.items():
        with pytest.raises(GenotypeError) as error:
            load_genotype(str(paths[name]))
        message = str(error.value)
        assert message.startswith(str(paths[name]))
        assert all(word in message for word in words), (name, message)
    inline = shipped()  # dicts given in a config are checked the same way
    inline['blocks'][0]['expand_ratio'] = float('nan')
    with pytest.raises(GenotypeError, match="block 0: field 'expand_ratio'"):
        load_genotype(inline)
    assert load_genotype(shipped()) == load_genotype('autonl-s')


def test_errors_of_train_test_and_export(toy_imagenet_root, tmp_path):
    """The other tools: a bad genotype, a bad config value, missing and
    unusable checkpoints, a missing Pretrained checkpoint, --resume from a
    missing load_from: one line each."""
    import torch
    paths = write_genotypes(tmp_path)
    good = tmp_path / 'good.pth'
    torch.save(dict(meta=dict(epoch=1, iter=3), state_dict={}), good)
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:100])
    data = cls_data_options(toy_imagenet_root)
    work = ['--work-dir', str(tmp_path / 'work')]
    missing = str(tmp_path / 'missing.pth')
    cases = [
        ('train_duplicate_key', TRAIN, [CLS, *work, '--cfg-options', *data,
         f'model.backbone.genotype={paths["duplicate_stride_key"]}'],
         ['duplicate_stride_key.json', "'stride'"]),
        ('train_nan', TRAIN, [CLS, *work, '--cfg-options', *data,
         f'model.backbone.genotype={paths["expand_nan"]}'], ['expand_nan']),
        ('test_act_foo', TEST, [CLS, str(good), *work, '--cfg-options',
         *data, f'model.backbone.genotype={paths["act_foo"]}'], ["'Foo'"]),
        ('train_bad_out_indices', TRAIN, [CLS, *work, '--cfg-options',
         *data, 'model.backbone.out_indices=(99,)'], ['out_indices']),
        ('train_bad_cfg_option', TRAIN, [CLS, *work, '--cfg-options',
         'param_scheduler.9.end=3'], ['--cfg-options']),
        ('train_load_from_missing', TRAIN, [CLS, *work, '--cfg-options',
         *data, f'load_from={missing}'], ['load_from', 'missing.pth']),
        ('train_load_from_empty', TRAIN, [CLS, *work, '--cfg-options',
         *data, f'load_from={empty}'], ['load_from', 'empty file']),
        ('train_resume_missing_load_from', TRAIN, [CLS, *work, '--resume',
         '--cfg-options', *data, f'load_from={missing}'],
         ['missing.pth', 'no readable checkpoint']),
        ('train_pretrained_missing', TRAIN, [CLS, *work, '--cfg-options',
         *data, 'model.backbone.init_cfg.type=Pretrained',
         f'model.backbone.init_cfg.checkpoint={missing}'],
         ['model.backbone.init_cfg.checkpoint', 'missing.pth']),
        ('get_flops_pretrained_truncated', GET_FLOPS, [CLS, '--shape', '32',
         '--cfg-options', 'model.backbone.init_cfg.type=Pretrained',
         f'model.backbone.init_cfg.checkpoint={truncated}'],
         ['model.backbone.init_cfg.checkpoint', 'unreadable']),
        ('test_checkpoint_truncated', TEST, [CLS, str(truncated), *work,
         '--cfg-options', *data], ['truncated.pth', 'unreadable']),
        ('export_checkpoint_empty', 'tools/export_genotype.py',
         ['configs/autonl/toy/autonl_search_toy-in1k.py', str(empty),
          str(tmp_path / 'g.json')], ['empty.pth', 'empty file']),
        ('export_not_search_config', 'tools/export_genotype.py',
         [CLS, str(good), str(tmp_path / 'g.json')],
         ['not a search config']),
    ]
    report = drive([dict(id=i, tool=t, argv=a) for i, t, a, _ in cases],
                   tmp_path)
    for result, (_, _, _, needles) in zip(report['results'], cases):
        assert_one_line_error(result, *needles)


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_bytes(bytes(range(256)))
    args = [GET_FLOPS, CLS, '--shape', '32', '--cfg-options',
            f'model.backbone.genotype={path}']
    proc = run_tool(args, check=False)
    # library warnings may precede it: the error is one line, the last one
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert [line for line in lines if line.startswith('error: ')] == \
        lines[-1:] == [f'error: {path}: not a UTF-8 text file (byte 0x80 at '
                       'offset 128); a genotype is a JSON text file'], \
        proc.stderr
    for debug_args, env in (([*args, '--debug'], None),
                            (args, dict(AUTONL_DEBUG='1'))):
        proc = run_tool(debug_args, check=False, env=env)
        assert proc.returncode == 1
        assert 'Traceback' in proc.stderr and 'GenotypeError' in proc.stderr
