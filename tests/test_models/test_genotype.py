"""The genotype format: shipped files, round trip, version 1 upgrade, and
every bad-input case."""
import copy
import json

import pytest

from autonl_mmseg.models.utils.genotype import (GenotypeError, dump_genotype,
                                                load_genotype,
                                                shipped_genotypes)

SHIPPED = ['mobilenet-v2', 'mobilenet-v2-lightnl', 'autonl-s', 'autonl-l']


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_genotypes_load(name, repo_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # names resolve from any directory
    by_name = load_genotype(name)
    by_path = load_genotype(
        str(repo_root / 'autonl_mmseg/models/genotypes' / f'{name}.json'))
    assert by_name == by_path and by_name['name'] == name
    assert by_name['version'] == 2
    # a config written when the files lived in configs/ still works
    with pytest.warns(DeprecationWarning, match='by name'):
        assert load_genotype(f'configs/autonl/genotypes/{name}.json') == \
            by_name


def test_shipped_list_and_unknown_name():
    assert shipped_genotypes() == sorted(SHIPPED)
    with pytest.raises(FileNotFoundError, match='autonl-s'):
        load_genotype('autonl-xl')


def _as_version_1(genotype):
    """The genotype as a version 1 file wrote it (LightNL-only field)."""
    v1 = copy.deepcopy(genotype)
    v1['version'] = 1
    for block in v1['blocks']:
        non_local = block.pop('non_local')
        if non_local is not None:
            assert non_local.pop('type') == 'LightNL'
        block['light_nl'] = non_local
    return v1


@pytest.mark.parametrize('name', SHIPPED)
def test_version_1_is_upgraded(name, tmp_path):
    v2 = load_genotype(name)
    v1 = _as_version_1(v2)
    path = tmp_path / 'v1.json'
    path.write_text(json.dumps(v1))
    assert load_genotype(str(path)) == v2
    # files without a version are version 1 when they use light_nl
    del v1['version']
    assert load_genotype(v1) == v2
    # the writer writes version 2
    text = dump_genotype(load_genotype(str(path)))
    assert '"version": 2' in text and '"light_nl"' not in text
    if any(b['non_local'] for b in v2['blocks']):
        assert '"type": "LightNL"' in text


def test_version_1_errors_name_its_fields(tmp_path):
    v1 = _as_version_1(load_genotype('autonl-s'))
    v1['blocks'][1]['light_nl']['channel_ratio'] = 1.5
    path = tmp_path / 'v1.json'
    path.write_text(json.dumps(v1))
    with pytest.raises(GenotypeError,
                       match=r"block 1: light_nl: field 'channel_ratio'"):
        load_genotype(str(path))
    v1['blocks'][1]['light_nl'] = dict(channel_ratio=0.25)
    path.write_text(json.dumps(v1))
    with pytest.raises(GenotypeError,
                       match=r"light_nl: field 'spatial_stride': missing"):
        load_genotype(str(path))


@pytest.mark.parametrize('non_local', [
    dict(type='Eqn9NonLocal', channel_ratio=0.5, spatial_stride=2,
         norm_cfg=None),
    dict(type='WangNonLocal'),
    dict(type='LightNL'),
])
def test_any_registered_non_local(non_local, tmp_path):
    """A genotype can place any registered non-local block; AutoNLNet
    builds it after the block's projection."""
    from autonl_mmseg.models import AutoNLNet
    from autonl_mmseg.models.utils.complexity import (genotype_macs,
                                                      non_local_macs)
    from mmengine.registry import MODELS
    geno = load_genotype('mobilenet-v2')
    geno['blocks'][5]['non_local'] = non_local
    path = tmp_path / 'g.json'
    dump_genotype(geno, str(path))
    loaded = load_genotype(str(path))
    assert loaded == load_genotype(geno)
    net = AutoNLNet(loaded)
    blocks = [b for stage in net.stages() for b in stage]
    assert isinstance(blocks[5].non_local, MODELS.get(non_local['type']))
    macs = genotype_macs(loaded, (224, 224))['blocks'][5]
    assert macs['non_local'] == non_local_macs(non_local, 32, 28, 28) > 0


def test_shipped_tables():
    s, l = load_genotype('autonl-s'), load_genotype('autonl-l')
    assert len(s['blocks']) == 18 and len(l['blocks']) == 21
    assert sum(b['non_local'] is not None for b in s['blocks']) == 7
    assert sum(b['non_local'] is not None for b in l['blocks']) == 14
    mbl = load_genotype('mobilenet-v2-lightnl')
    # Section 4.1: s = 2 exactly where the output map is larger than 14x14
    strides = [b['non_local']['spatial_stride'] for b in mbl['blocks']]
    assert strides == [2] * 6 + [1] * 11
    assert {b['non_local']['channel_ratio'] for b in mbl['blocks']} == {0.25}
    assert {b['non_local']['type'] for b in mbl['blocks']} == {'LightNL'}


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
    if isinstance(field, tuple):  # nested non_local field
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
    (1, ('non_local', 'channel_ratio'), 1.5, False, ['(0, 1]']),
    (1, ('non_local', 'channel_ratio'), 0, False, ['(0, 1]']),
    (7, 'se_ratio', 1.2, False, ['(0, 1]']),
    (4, 'kernel_size', 4, False, ['odd']),
    (2, 'stride', 3, False, ['1 or 2']),
    (6, 'out_channels', 0, False, ['positive']),
    (6, 'out_channels', -8, False, ['positive']),
    (1, ('non_local', 'spatial_stride'), 0, False, ['in 1..8', 'got 0']),
    (1, ('non_local', 'extra'), 0, False, ['unknown key']),
    (1, ('non_local', 'type'), 'NoSuchBlock', False, ['unknown non-local']),
    (1, ('non_local', 'type'), None, True, ['missing field']),
    (1, ('non_local', 'type'), 3, False, ['expected str']),
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
    ('version', 3, ['unsupported version']),
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
