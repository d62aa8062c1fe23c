"""tools/analysis_tools/benchmark.py: the side-by-side measurement."""
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools' /
                       'analysis_tools'))


def test_measure_case_lightnl_tiny():
    import benchmark
    cases = benchmark.lightnl_cases(sizes=((8, 12, (1, 2)), ), batches=(2, ))
    assert len(cases) == 1
    case = cases[0]
    assert case.title == '12x12x8' and case.shape == (8, 12, 12)
    assert list(case.models) == ['NonLocal2d', 'LightNL r=0.25 s=1',
                                 'LightNL r=0.25 s=2']

    res = benchmark.measure_case(case, batch=2, device='cpu', repeats=2,
                                 warmup=1)
    assert res['group'] == 'lightnl' and res['batch'] == 2
    assert res['reference'] == 'NonLocal2d' and res['repeats'] == 2
    rows = res['models']
    assert [r['name'] for r in rows] == list(case.models)
    ref = rows[0]
    for row in rows:
        assert len(row['times_ms']) == 2 and row['inner'] >= 1
        assert all(t > 0 for t in row['times_ms'])
        assert row['median_ms'] == statistics.median(row['times_ms']) > 0
        assert 0 < row['min_ms'] <= row['median_ms']
        # the ratio is model / reference of the reported medians
        assert math.isclose(row['ratio'], row['median_ms'] / ref['median_ms'],
                            rel_tol=1e-9)
        assert row['peak_mb'] > 0
        assert math.isclose(row['mem_ratio'], row['peak_mb'] / ref['peak_mb'],
                            rel_tol=1e-9)
    assert ref['ratio'] == 1.0
    # NonLocal2d materialises the 144 x 144 affinity per image; LightNL at
    # r = 0.25 only a 8 x 2 Gram matrix: the profiler-based peak sees that.
    assert rows[1]['peak_mb'] < ref['peak_mb']
    # the models are left in eval mode with their output shapes unchanged
    assert not any(m.training for m in case.models.values())
