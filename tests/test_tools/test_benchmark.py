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
        # the ratio pairs the times of each repeat; the ratio of the
        # medians is kept beside it
        assert math.isclose(row['ratio'], statistics.median(
            t / r for t, r in zip(row['times_ms'], ref['times_ms'])),
            rel_tol=1e-9)
        assert math.isclose(row['ratio_of_medians'],
                            row['median_ms'] / ref['median_ms'],
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


def test_paired_ratio_ignores_a_slow_phase():
    """A slow phase of the machine (+40%) that ends mid-run, between the
    two models of repeat 6: the paired ratio keeps the true 1.1, the ratio
    of the medians compares a slow median with a fast one."""
    import benchmark
    reference = [14.0] * 5 + [10.0] * 6
    model = [15.4] * 6 + [11.0] * 5  # 1.1x in every repeat but the 6th
    assert math.isclose(benchmark.paired_ratio(model, reference), 1.1)
    assert statistics.median(model) / statistics.median(reference) > 1.5
    assert math.isclose(benchmark.paired_ratio([3.0, 1.0, 2.0],
                                               [1.0, 1.0, 1.0]), 2.0)


def test_lever_forms_compute_the_same_network():
    """Every inference form of the levers group (deploy, channels-last,
    LightNL's fused CPU kernel, onnxruntime) is the same function as the
    eager network, and each is timed side by side."""
    import numpy as np
    import torch

    import benchmark
    cases = benchmark.lever_cases(size=32, batches=(1, ))
    cpu_cases = [c for c in cases if c.devices in (None, ('cpu', ))]
    assert [c.title for c in cpu_cases] == [
        'eager', 'deploy (BN folded)', 'deploy + channels-last',
        'deploy + channels-last + fused LightNL kernel',
        'onnxruntime, deploy form']
    x = torch.randn(1, 3, 32, 32)
    for name in ('mobilenet-v2', 'mobilenet-v2-lightnl'):
        with torch.no_grad():
            ref = cpu_cases[0].models[name](x)[0]
            for case in cpu_cases[1:]:
                out = case.models[name](x)
                out = out[0] if isinstance(out, (tuple, list)) else out
                out = torch.as_tensor(np.asarray(out))
                assert ((out - ref).norm() / ref.norm()).item() < 1e-4, (
                    case.title, name)
    res = benchmark.measure_case(cpu_cases[-1], batch=1, repeats=1, warmup=1,
                                 memory=cpu_cases[-1].memory)
    assert [r['name'] for r in res['models']] == ['mobilenet-v2',
                                                  'mobilenet-v2-lightnl']
    assert res['models'][1]['peak_mb'] is None  # not PyTorch's memory
    checks = benchmark.targets([res])
    assert any('onnxruntime' in label for label, _, _ in checks)


def test_train_step_group_tiny():
    import benchmark
    results = benchmark.measure_train_steps(batch=2, size=32, repeats=1,
                                            warmup=1)
    assert [r['case'] for r in results] == ['fp32', 'fp32 channels-last']
    for res in results:
        rows = res['models']
        assert [r['name'] for r in rows] == ['mobilenet-v2',
                                             'mobilenet-v2-lightnl']
        for row in rows:
            assert row['images_per_s'] == 2e3 / row['median_ms'] > 0


def test_search_step_group_tiny(capsys):
    """The search group times a real search step (cost on, gates
    calibrated by the warm-up step) against AutoNL-L, and projects it."""
    import benchmark
    results = benchmark.measure_train_steps(
        batch=2, size=32, repeats=1, warmup=1,
        configs=benchmark.SEARCH_CONFIGS, group='search')
    assert {r['group'] for r in results} == {'search'}
    for res in results:
        assert [r['name'] for r in res['models']] == ['autonl-l',
                                                      'search supernet']
    benchmark.print_search_projection(results)
    out = capsys.readouterr().out
    assert 'the 8-epoch ImageNet search at' in out
    checks = [c for c in benchmark.targets(results)
              if c[0].startswith('search step within')]
    assert len(checks) == len(results)
    assert all(passed in (True, False) for _, passed, _ in checks)
