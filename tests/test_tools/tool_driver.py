"""Run many tool invocations in one process, as ``python tools/X.py ARGS``
would (through ``run_cli``), and report each one's exit code, stderr, wall
and CPU time, with the process's peak memory growth: the bad-input tests feed
dozens of cases without paying an interpreter start for each.

    python tests/test_tools/tool_driver.py CASES.json RESULTS.json

CASES.json: a list of ``{"id": ..., "tool": "tools/....py", "argv": [...]}``
(paths relative to the repository root). The first case is the warm-up;
memory growth is measured from after it.
"""
import contextlib
import importlib.util
import io
import json
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def load_tool(relative, cache={}):  # noqa: B006  (a per-process cache)
    if relative not in cache:
        path = ROOT / relative
        spec = importlib.util.spec_from_file_location(
            '_driven_' + path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cache[relative] = module
    return cache[relative]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case):
    from autonl_mmseg.engine.cli import run_cli
    tool = load_tool(case['tool'])
    stderr, stdout = io.StringIO(), io.StringIO()
    start, start_cpu = time.monotonic(), time.process_time()
    with contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(stdout), \
            warnings.catch_warnings(record=True):
        try:
            run_cli(tool.main, case['argv'])
            code = 0
        except SystemExit as e:
            code = e.code
        except BaseException:  # noqa: B902  (a traceback: reported)
            code = 'traceback'
            stderr.write(traceback.format_exc())
    return dict(id=case['id'], code=code, stderr=stderr.getvalue(),
                seconds=time.monotonic() - start,
                cpu_seconds=time.process_time() - start_cpu)


def main():
    cases = json.loads(Path(sys.argv[1]).read_text())
    results = [run_case(cases[0])]
    baseline = peak_rss_mb()
    results += [run_case(case) for case in cases[1:]]
    Path(sys.argv[2]).write_text(json.dumps(dict(
        results=results, baseline_mb=baseline,
        growth_mb=peak_rss_mb() - baseline)))


if __name__ == '__main__':
    main()
