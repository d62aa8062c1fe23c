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
