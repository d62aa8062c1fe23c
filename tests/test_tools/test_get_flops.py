"""get_flops.py reproduces the paper's Tables 1 and 3 within tolerance."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools' /
                       'analysis_tools'))


def test_paper_tables_within_tolerance(capsys):
    import get_flops
    table1, table3 = get_flops.paper_tables()
    out = capsys.readouterr().out
    assert 'Table 1' in out and 'Table 3' in out
    assert len(table1) == 7
    for row in table1:  # Table 1 deltas within 10%
        assert abs(row['ratio'] - 1) <= 0.10, row
    by_name = {row['name']: row for row in table3}
    for name in ('autonl-s', 'autonl-l'):  # params and MACs within 2%
        row = by_name[name]
        assert abs(row['params'] / row['paper_params'] - 1) <= 0.02, row
        assert abs(row['macs'] / row['paper_macs'] - 1) <= 0.02, row
        # the analytic count (used by the search's cost model) agrees with
        # mmengine's count exactly once BN is left out
        assert row['analytic'] == pytest.approx(row['macs'], rel=1e-6)


def test_config_mode(capsys):
    import get_flops
    params, total, ops = get_flops.config_complexity(
        str(Path(__file__).resolve().parents[2] /
            'configs/autonl/toy/deeplabv3_autonl_toy-voc.py'), (64, 64))
    assert params > 1e6 and total > 0
    assert 'batch_norm' in ops and 'conv' in ops
