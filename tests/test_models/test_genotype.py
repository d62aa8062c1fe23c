"""The genotype format: shipped files, round trip, and every bad-input case."""
import copy
import json

import pytest

from autonl_mmseg.models.utils.genotype import (GenotypeError, dump_genotype,
                                                load_genotype)

SHIPPED = ['mobilenet-v2', 'mobilenet-v2-lightnl', 'autonl-s', 'autonl-l']


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_genotypes_load(name, repo_root):
    by_name = load_genotype(name)
    by_path = load_genotype(
        str(repo_root / 'configs/autonl/genotypes' / f'{name}.json'))
    assert by_name == by_path and by_name['name'] == name


def test_shipped_tables():
    s, l = load_genotype('autonl-s'), load_genotype('autonl-l')
    assert len(s['blocks']) == 18 and len(l['blocks']) == 21
    assert sum(b['light_nl'] is not None for b in s['blocks']) == 7
    assert sum(b['light_nl'] is not None for b in l['blocks']) == 14
    mbl = load_genotype('mobilenet-v2-lightnl')
    # Section 4.1: s = 2 exactly where the output map is larger than 14x14
    strides = [b['light_nl']['spatial_stride'] for b in mbl['blocks']]
    assert strides == [2] * 6 + [1] * 11
    assert {b['light_nl']['channel_ratio'] for b in mbl['blocks']} == {0.25}


@pytest.mark.parametrize('name', SHIPPED)
def test_round_trip(name, tmp_path):
    geno = load_genotype(name)
    geno['meta'] = dict(macs=123, search_cfg=dict(lambda_=0.1))
    path = tmp_path / 'g.json'
    text = dump_genotype(geno, str(path))
    assert path.read_text() == text
    assert load_genotype(str(path)) == geno
    # one block per line: a human can diff two genotypes line by line
    assert sum('"expand_ratio"' in line
               for line in text.splitlines()) == len(geno['blocks'])


def _write(tmp_path, data):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(data))
    return str(path)


def _mutate(block_index, field, value, delete=False):
    geno = copy.deepcopy(load_genotype('autonl-s'))
    target = geno if block_index is None else geno['blocks'][block_index]
    if isinstance(field, tuple):  # nested light_nl field
        target = target[field[0]]
        field = field[1]
    if delete:
        del target[field]
    else:
        target[field] = value
    return geno


BAD = [
    # (block, field, value, delete, words in the message)
    (3, 'colour', 1, False, ['unknown key']),
    (3, 'stride', '2', False, ['expected int', 'str']),
    (3, 'stride', True, False, ['expected int', 'bool']),
    (5, 'kernel_size', None, True, ['missing field']),
    (1, ('light_nl', 'channel_ratio'), 1.5, False, ['(0, 1]']),
    (1, ('light_nl', 'channel_ratio'), 0, False, ['(0, 1]']),
    (7, 'se_ratio', 1.2, False, ['(0, 1]']),
    (4, 'kernel_size', 4, False, ['odd']),
    (2, 'stride', 3, False, ['1 or 2']),
    (6, 'out_channels', 0, False, ['positive']),
    (6, 'out_channels', -8, False, ['positive']),
    (1, ('light_nl', 'spatial_stride'), 0, False, ['>= 1']),
    (1, ('light_nl', 'extra'), 0, False, ['unknown key']),
]


@pytest.mark.parametrize('block,field,value,delete,words', BAD)
def test_bad_genotype_names_file_block_field(tmp_path, block, field, value,
                                             delete, words):
    path = _write(tmp_path, _mutate(block, field, value, delete))
    with pytest.raises(GenotypeError) as err:
        load_genotype(path)
    msg = str(err.value)
    name = field[1] if isinstance(field, tuple) else field
    assert msg.startswith(path + ': ')
    assert f'block {block}' in msg and repr(name) in msg
    for word in words:
        assert word in msg, msg
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize('field,value,words', [
    ('version', 2, ['unsupported version']),
    ('stem_channels', 0, ['positive']),
    ('act', 3, ['expected str']),
    ('format', 'something-else', ['autonl-genotype']),
    ('blocks', [], ['non-empty']),
])
def test_bad_top_level(tmp_path, field, value, words):
    path = _write(tmp_path, _mutate(None, field, value))
    with pytest.raises(GenotypeError) as err:
        load_genotype(path)
    msg = str(err.value)
    assert msg.startswith(path) and repr(field) in msg
    assert all(w in msg for w in words), msg


def test_not_json_and_missing_file(tmp_path):
    path = tmp_path / 'x.json'
    path.write_text('{"blocks": [')
    with pytest.raises(GenotypeError, match='not valid JSON'):
        load_genotype(str(path))
    with pytest.raises(FileNotFoundError, match='autonl-s'):
        load_genotype(str(tmp_path / 'missing.json'))


def test_inline_dict_is_not_modified():
    geno = load_genotype('autonl-l')
    before = copy.deepcopy(geno)
    load_genotype(geno)
    assert geno == before
