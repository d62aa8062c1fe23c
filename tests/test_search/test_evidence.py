"""The search-evidence tool's analysis: random genotypes of the search
space at a MACs budget, and the seed-agreement measure."""
import copy
import random

import pytest

from autonl_mmseg.models.utils.complexity import genotype_macs
from autonl_mmseg.models.utils.genotype import (load_genotype,
                                                stage_boundaries)
from autonl_mmseg.search import AutoNLSuperNet, build_search_space

from .conftest import load_script
from .helpers import tiny_space


@pytest.fixture(scope='module')
def evidence():
    return load_script('tools/analysis_tools/search_evidence.py')


def test_sample_genotype_covers_the_space():
    net = AutoNLSuperNet(tiny_space())
    rng = random.Random(0)
    genotypes = [net.sample_genotype(rng) for _ in range(40)]
    space = net.space
    seen = {field: set() for field in ('kernel_size', 'expand_ratio',
                                       'se_ratio')}
    lengths, light_nl = set(), set()
    for genotype in genotypes:
        load_genotype(genotype)  # valid
        # the first block of every stage is kept: one stage per stage
        assert len(stage_boundaries(genotype['blocks'])) == \
            space['num_stages']
        lengths.add(len(genotype['blocks']))
        for block in genotype['blocks'][1:]:
            for field in seen:
                seen[field].add(block[field])
            light_nl.add(None if block['non_local'] is None else (
                block['non_local']['channel_ratio'],
                block['non_local']['spatial_stride']))
    assert seen == dict(kernel_size={3, 5}, expand_ratio={3, 6},
                        se_ratio={0, 0.25, 0.5})
    assert len(lengths) > 1  # skips drawn
    assert None in light_nl and len(light_nl) == 1 + 3 * 2


def test_random_genotypes_at_the_budget(evidence):
    genotypes, _ = evidence.sample_random_genotypes(3.0e8, 3, 0.05, seed=1)
    macs = [genotype_macs(g)['total'] for g in genotypes]
    assert all(abs(m / 3.0e8 - 1) <= 0.05 for m in macs)
    assert len({str(g['blocks']) for g in genotypes}) == 3


def test_agreement(evidence):
    space = build_search_space()
    base = load_genotype('autonl-s')
    assert evidence.agreement(base, base, space) == (1.0, 1.0)
    other = copy.deepcopy(base)
    other['blocks'][3]['kernel_size'] = 3  # one decision of one block
    blocks, decisions = evidence.agreement(base, other, space)
    assert blocks == pytest.approx(21 / 22)
    assert decisions == pytest.approx(1 - 1 / (22 * 5))
    # AutoNL-L differs from AutoNL-S in most blocks
    blocks, decisions = evidence.agreement(
        base, load_genotype('autonl-l'), space)
    assert blocks < 0.5 and decisions < 0.8


def test_run_all_keeps_order_and_reports_failures(evidence):
    import time as _time

    def slow(value, delay):
        _time.sleep(delay)
        return value

    thunks = [lambda i=i: slow(i, 0.05 * (3 - i)) for i in range(4)]
    assert evidence.run_all(thunks, 2) == [0, 1, 2, 3]
    calls = []

    def fail():
        raise RuntimeError('run failed')

    def ok():
        calls.append(1)
        return 1

    with pytest.raises(RuntimeError, match='run failed'):
        evidence.run_all([fail, ok, ok], 2)
    assert len(calls) == 2  # the other runs still ran


def test_table_from_saved_results(evidence, tmp_path):
    """``--stages table`` reads the saved results (searches, retrainings
    and the random genotypes drawn before) and runs nothing."""
    import json
    out = tmp_path / 'ev'
    genotype = load_genotype('autonl-s')
    for seed in (0, 1):
        work = out / 'search' / f'target2e+08_s{seed}'
        work.mkdir(parents=True)
        g = copy.deepcopy(genotype)
        if seed:
            g['blocks'][3]['kernel_size'] = 3
        (work / 'genotype.json').write_text(json.dumps(g))
        (work / 'result.json').write_text(json.dumps(dict(
            point=2e8, seed=seed, wall_s=1.0, supernet_top1=55.0,
            macs_224=2.0e8, num_blocks=18, num_light_nl=2,
            genotype=str(work / 'genotype.json'))))
    (out / 'random').mkdir()
    accs = dict(searched_target2e08=[80.0, 82.0], random0=[70.0, 72.0],
                random1=[85.0, 87.0])
    for i in range(2):
        g = copy.deepcopy(genotype)
        g['meta'] = dict(macs_224=int(2.0e8 + i))
        (out / 'random' / f'random{i}.json').write_text(json.dumps(g))
    for label, values in accs.items():
        label = label.replace('2e08', '2e+08')
        for seed, top1 in enumerate(values):
            work = out / 'retrain' / f'{label}_s{seed}'
            work.mkdir(parents=True)
            (work / 'result.json').write_text(json.dumps(dict(
                label=label, seed=seed, wall_s=1.0, top1=top1)))
    text = evidence.main([str(out), '--targets', '2e8', '--stages',
                          'table', '--num-random', '2', '--retrain-seeds',
                          '0', '1', '--jobs', '2'])
    assert '| target2e+08 | 0 vs 1 | 95% |' in text  # 21 of 22 blocks
    assert '| searched_target2e+08 | 200.0M | 81.0 +- 1.4 | 2 |' in text
    assert '| random1 | 200.0M | 86.0 +- 1.4 | 2 |' in text
    assert 'random genotypes 78.5 +- 10.6' in text
    assert 'above 1 of the 2 random' in text
    assert (out / 'search_evidence.json').is_file()
