"""Metrics at every enter and leave: getrusage fields (and PAPI counters
when built with PAPI), as OTF2 metric events and as CUBE metrics."""
from __future__ import annotations

import pytest

from scorep import _native

from pycubexr import CubexParser


def metric_by_region(path, metric):
    """Inclusive metric values summed over locations and call paths, per region name."""
    totals = {}
    with CubexParser(path) as parser:
        names = [m.name for m in parser.get_metrics()]
        values = parser.get_metric_values(parser.get_metric_by_name(metric))
        for cnode in parser.all_cnodes():
            name = parser.get_region(cnode).name
            totals[name] = totals.get(name, 0) + int(sum(values.cnode_values(cnode)))
    return names, totals

BURN = """
import time

def burn(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def allocate():
    return [bytearray(4096) for _ in range(5000)]

def main():
    burn(3_000_000)
    allocate()

main()
"""


def test_rusage_in_trace_and_profile(runner):
    run = runner.script(BURN, env={"SCOREP_METRIC_RUSAGE": "ru_utime,ru_minflt",
                                   "SCOREP_METRIC_RUSAGE_PER_PROCESS": "ru_maxrss",
                                   "SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    metric_events = trace.events("Metric")
    enters_and_leaves = trace.events("enter") + trace.events("leave")
    # one metric record per enter and per leave
    assert len(metric_events) == len(enters_and_leaves)
    names, utime = metric_by_region(run.experiment / "profile.cubex", "ru_utime")
    assert names[:4] == ["visits", "time", "min_time", "max_time"]
    assert names[4:] == ["ru_utime", "ru_minflt", "ru_maxrss_per_process"]
    # a pure-Python loop of a few hundred ms: user CPU time in microseconds
    assert 50_000 <= utime["__main__:burn"] <= 5_000_000, utime
    assert utime["__main__:main"] >= utime["__main__:burn"] >= 0.5 * utime["__main__:<module>"]
    _, minflt = metric_by_region(run.experiment / "profile.cubex", "ru_minflt")
    assert minflt["__main__:allocate"] >= 1000, minflt             # 20 MB of fresh pages


@pytest.mark.parametrize("value", ["all", "ALL", "ru_utime;ru_stime"])
def test_rusage_spellings(runner, value):
    env = {"SCOREP_METRIC_RUSAGE": value}
    if ";" in value:
        env["SCOREP_METRIC_RUSAGE_SEP"] = ";"
    run = runner.script("def f(): pass\nf()\n", env=env)
    assert run.returncode == 0, run.stderr
    assert len(run.trace().events("Metric")) > 0


@pytest.mark.parametrize("variable,value", [
    ("SCOREP_METRIC_RUSAGE", "ru_bogus"),
    ("SCOREP_METRIC_RUSAGE_PER_PROCESS", "ru_utime,nope"),
])
def test_unknown_rusage_field_is_an_error(runner, variable, value):
    run = runner.script("print('ran')", env={variable: value})
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and value.split(",")[-1] in lines[0]
    assert run.experiments() == []


def test_papi_request_is_clear(runner):
    run = runner.script("print('ran')", env={"SCOREP_METRIC_PAPI": "PAPI_TOT_CYC"})
    if run.returncode == 0:
        # a machine with counters and a PAPI build: the counter is recorded
        assert _native.features()["papi"]
        assert run.stdout == "ran\n"
        return
    assert run.stdout == ""
    line = run.stderr.strip()
    assert "\n" not in line and "SCOREP_METRIC_PAPI" in line
    if _native.features()["papi"]:
        assert "PAPI_TOT_CYC" in line
    else:
        assert "libpapi-dev" in line
    assert run.experiments() == []
