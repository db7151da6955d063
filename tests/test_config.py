"""Configuration variables: the one table (``scorep._native.config_vars()``),
its listing (``--config-vars``), its documentation (README), ``scorep.cfg``,
validation of every type, SCOREP_VERBOSE and SCOREP_TIMER."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from scorep import _native

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

VARS = list(_native.config_vars())          # (name, type, default, help, long help)
BY_NAME = {v[0]: v for v in VARS}
NAMES = [v[0] for v in VARS]
OF_TYPE = lambda kind: [v[0] for v in VARS if v[1] == kind]  # noqa: E731

SCRIPT = 'print("ran")\n'
TIMER_NAMES = ("tsc", "clock_gettime", "gettimeofday")


# --------------------------------------------------------------------------
# Helpers

def parse_size(text: str) -> int:
    """Score-P's size syntax, independently of the C parser."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgtpe]?)(b?)\s*", text, re.IGNORECASE)
    assert m, f"not a size: {text!r}"
    return int(m.group(1)) << (10 * " kmgtpe".index(m.group(2).lower() or " "))


def effective(kind: str, text: str) -> str:
    """What scorep.cfg must give back for a value of this type."""
    if kind == "boolean":
        t = text.strip().lower()
        if t in ("true", "yes", "on"):
            return "true"
        if t in ("false", "no", "off", ""):
            return "false"
        return "true" if int(t) != 0 else "false"
    if kind == "size":
        return str(parse_size(text))
    if kind == "number":
        return str(int(text))
    if kind == "option":
        return text.strip().lower()
    return text.strip()


def scorep_dirs(cwd: Path) -> list:
    return sorted(p.name for p in cwd.iterdir() if p.name.startswith("scorep-"))


def cfg_assignments(directory: Path) -> Dict[str, str]:
    """Raw right-hand sides of the NAME=... lines of scorep.cfg."""
    text = (directory / "scorep.cfg").read_text()
    found: Dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"(SCOREP_\w+)=(.*)$", line)
        if m:
            assert m.group(1) not in found, f"{m.group(1)} assigned twice in scorep.cfg"
            found[m.group(1)] = m.group(2)
    return found


def cfg_sourced(directory: Path) -> Dict[str, str]:
    """Every variable of the table as a shell sees it after sourcing scorep.cfg."""
    program = '. "$1" || exit 9; shift; for v in "$@"; do eval "printf \'%s\\0\' \\"\\$$v\\""; done'
    shell = subprocess.run(["sh", "-c", program, "sh", str(directory / "scorep.cfg"), *NAMES],
                           capture_output=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert shell.returncode == 0, shell.stderr.decode()
    assert shell.stderr == b"", shell.stderr.decode()
    values = shell.stdout.decode().split("\0")[:-1]
    assert len(values) == len(NAMES), values
    return dict(zip(NAMES, values))


def assert_config_error(run, variable: str, value: str, named_dir: Optional[str] = None) -> str:
    """A bad value: non-zero exit, one stderr line naming variable and value,
    the script did not run, no experiment directory."""
    assert run.returncode != 0, f"{variable}={value!r} was accepted\nstderr:\n{run.stderr}"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{run.stderr}"
    line = lines[0]
    assert variable in line, f"the message does not name {variable}: {line}"
    assert value in line.replace(variable, ""), f"the message does not name the value {value!r}: {line}"
    assert "Traceback" not in run.stderr
    assert run.stdout == "", "the script ran"
    assert scorep_dirs(run.cwd) == [], scorep_dirs(run.cwd)
    if named_dir:
        assert not (run.cwd / named_dir).is_dir()
    return line


def run_ok(runner, env: dict, script: str = SCRIPT):
    run = runner.script(script, env=env)
    assert run.returncode == 0, f"{env} rejected:\n{run.stderr}"
    assert run.stdout == "ran\n"
    return run


# --------------------------------------------------------------------------
# The table, its listing and its documentation

def test_the_table_has_the_core_score_p_variables():
    for name in ["SCOREP_ENABLE_PROFILING", "SCOREP_ENABLE_TRACING", "SCOREP_VERBOSE", "SCOREP_TOTAL_MEMORY",
                 "SCOREP_PAGE_SIZE", "SCOREP_EXPERIMENT_DIRECTORY", "SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY",
                 "SCOREP_MACHINE_NAME", "SCOREP_FORCE_CFG_FILES", "SCOREP_FILTERING_FILE",
                 "SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "SCOREP_PROFILING_BASE_NAME", "SCOREP_PROFILING_FORMAT",
                 "SCOREP_TIMER"]:
        assert name in BY_NAME, name
    assert len(set(NAMES)) == len(NAMES), "a variable is in the table twice"
    for name, kind, default, help_text, long_help in VARS:
        assert re.fullmatch(r"SCOREP_[A-Z0-9_]+", name), name
        assert kind in ("boolean", "size", "number", "path", "string", "option"), (name, kind)
        assert help_text.strip() and "\n" not in help_text, name
        assert long_help.strip(), name


@pytest.mark.parametrize("name", [v[0] for v in VARS if v[1] in ("boolean", "size", "number")])
def test_the_table_defaults_parse(name):
    _, kind, default, _, _ = BY_NAME[name]
    effective(kind, default)  # raises on a malformed default


@pytest.fixture(scope="module")
def config_vars_listing(tmp_path_factory) -> Tuple[str, Dict[str, str]]:
    """`python -m scorep --config-vars` and its blocks by variable."""
    import sys
    cwd = tmp_path_factory.mktemp("listing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    done = subprocess.run([sys.executable, "-m", "scorep", "--config-vars"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert os.listdir(cwd) == [], "--config-vars writes nothing"
    blocks: Dict[str, str] = {}
    current = None
    for line in done.stdout.splitlines():
        if re.fullmatch(r"SCOREP_\w+", line):
            assert line not in blocks, f"{line} listed twice"
            current = line
            blocks[current] = ""
        elif current:
            blocks[current] += line + "\n"
    return done.stdout, blocks


@pytest.mark.parametrize("name", NAMES)
def test_config_vars_lists_each_variable_with_default_and_help(config_vars_listing, name):
    _, blocks = config_vars_listing
    _, kind, default, help_text, long_help = BY_NAME[name]
    assert name in blocks, f"{name} missing from --config-vars"
    block = blocks[name]
    assert re.search(r"default: (%s|'%s'|\"%s\")[],)\s]" % ((re.escape(default),) * 3), block), \
        f"default {default!r} of {name} not shown:\n{block}"
    assert help_text in block, block
    assert " ".join(long_help.split()) in " ".join(block.split()), block
    assert kind in block, block


def test_config_vars_lists_nothing_else(config_vars_listing):
    _, blocks = config_vars_listing
    assert list(blocks) == NAMES


def test_options_named_in_the_help_texts_exist(runner):
    # a help text that points to a command line option must name a real one
    usage = runner.run("--help").stdout
    accepted = set(re.findall(r"--[a-z][a-z-]*", usage))
    for name, _, _, help_text, long_help in VARS:
        for option in re.findall(r"--[a-z][a-z-]*", help_text + " " + long_help):
            assert option in accepted, f"{name}'s help names {option}, which `python -m scorep --help` does not " \
                                       f"know (options: {sorted(accepted)})"


def readme_table() -> Dict[str, Tuple[str, str]]:
    """Variable -> (type, default) from the README's "## Configuration" table."""
    text = README.read_text()
    m = re.search(r"^## Configuration\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, "README has no '## Configuration' section"
    rows: Dict[str, Tuple[str, str]] = {}
    for line in m.group(1).splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`(SCOREP_\w+)`", cells[0])
        if name and len(cells) >= 3:
            rows[name.group(1)] = (cells[1], cells[2])
    assert rows, "no variable rows in the README's configuration table"
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_readme_documents_every_variable_with_its_default(name):
    rows = readme_table()
    assert name in rows, f"{name} is in the configuration table (config_vars.def) but has no row in the " \
                         f"README's '## Configuration' table"
    kind, documented = rows[name]
    _, real_kind, default, _, _ = BY_NAME[name]
    assert kind == real_kind, f"README says {name} is a {kind}, the table says {real_kind}"
    if default == "":
        # an empty default is described in parentheses: (empty), (none), (tsc where usable)
        assert documented == "" or re.fullmatch(r"\(.*\)", documented), (name, documented)
    else:
        assert documented == default, f"README default of {name} is {documented!r}, the table's {default!r}"


def test_readme_documents_no_unknown_variables():
    extra = set(readme_table()) - set(NAMES)
    assert not extra, f"README documents variables that do not exist: {sorted(extra)}"


# --------------------------------------------------------------------------
# scorep.cfg

def test_scorep_cfg_lists_every_variable_with_its_default(runner):
    run = run_ok(runner, {})
    assigned = cfg_assignments(run.experiment)
    assert sorted(assigned) == sorted(NAMES)
    values = cfg_sourced(run.experiment)
    set_by_runner = {"SCOREP_ENABLE_TRACING": "true", "SCOREP_ENABLE_PROFILING": "false"}
    for name, kind, default, _, _ in VARS:
        if name in set_by_runner:
            assert values[name] == set_by_runner[name], name
        elif name == "SCOREP_TIMER":
            # empty means "the best clock"; the file may name the one in use
            assert values[name] in ("",) + TIMER_NAMES, values[name]
        else:
            assert values[name] == effective(kind, default), (name, values[name], default)
        if kind in ("string", "path", "option"):
            assert assigned[name].startswith("'") and assigned[name].endswith("'"), \
                f"{name}={assigned[name]} is not single-quoted"


def test_scorep_cfg_gives_back_every_value_set(runner, tmp_path_factory):
    odd_dir = tmp_path_factory.mktemp("odd name's dir")
    filter_file = odd_dir / "it's a $filter!"
    filter_file.write_text("# nothing filtered\n")
    env = {
        "SCOREP_ENABLE_PROFILING": "On",
        "SCOREP_ENABLE_TRACING": " yes ",
        "SCOREP_VERBOSE": "0",
        "SCOREP_TOTAL_MEMORY": "3 MB",
        "SCOREP_PAGE_SIZE": "16k",
        "SCOREP_EXPERIMENT_DIRECTORY": "exp 'one' $HOME `x` !",
        "SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY": "NO",
        "SCOREP_FORCE_CFG_FILES": "1",
        "SCOREP_MACHINE_NAME": "it's \"$HOME\" `echo INJECTED` \\ ! $(echo INJECTED)\nline two",
        "SCOREP_TIMER": "Clock_Gettime",
        "SCOREP_FILTERING_FILE": str(filter_file),
        "SCOREP_PROFILING_BASE_NAME": "my 'profile'",
        "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": " 7",
        "SCOREP_PROFILING_FORMAT": "CUBE4",
        "SCOREP_PYTHON_C_CALLS": "off",
        "SCOREP_METRIC_RUSAGE": "ru_utime;ru_stime",
        "SCOREP_METRIC_RUSAGE_SEP": ";",
    }
    run = run_ok(runner, {k: v for k, v in env.items() if k in BY_NAME})
    directory = runner.cwd / env["SCOREP_EXPERIMENT_DIRECTORY"]
    assert directory.is_dir(), sorted(os.listdir(runner.cwd))
    assert (directory / "my 'profile'.cubex").is_file()
    values = cfg_sourced(directory)
    for name, value in env.items():
        if name in BY_NAME:
            assert values[name] == effective(BY_NAME[name][1], value), (name, values[name], value)
    assert "INJECTED" not in (directory / "scorep.cfg").read_text().replace("`echo INJECTED`", "") \
        .replace("$(echo INJECTED)", "")


# --------------------------------------------------------------------------
# Validation, per type

BOOL_GOOD = [("yes", "true"), ("Off", "false"), ("TRUE", "true"), ("no", "false"), ("1", "true"),
             ("0", "false"), ("", "false"), (" on ", "true")]


@pytest.mark.parametrize("value,expected", BOOL_GOOD, ids=[repr(v) for v, _ in BOOL_GOOD])
@pytest.mark.parametrize("name", OF_TYPE("boolean"))
def test_boolean_good_values(runner, name, value, expected):
    env = {name: value}
    if name == "SCOREP_FORCE_CFG_FILES":
        env["SCOREP_ENABLE_TRACING"] = "true"     # so that there is a directory to look into
    run = run_ok(runner, env)
    if name == "SCOREP_VERBOSE" and expected == "true":
        assert run.stderr and all(line.startswith("[Score-P]") for line in run.stderr.splitlines()), run.stderr
    else:
        assert run.stderr == ""
    assert cfg_sourced(run.experiment)[name] == expected


@pytest.mark.parametrize("name", OF_TYPE("boolean"))
def test_boolean_bad_value(runner, name):
    assert_config_error(runner.script(SCRIPT, env={name: "maybe"}), name, "maybe")


@pytest.mark.parametrize("value", ["tru", "enable", "yes please", "1.0", "0x1", "t"])
def test_more_bad_booleans(runner, value):
    # a typo must not silently switch the measurement off
    assert_config_error(runner.script(SCRIPT, env={"SCOREP_ENABLE_TRACING": value}), "SCOREP_ENABLE_TRACING",
                        value)


SIZE_GOOD = ["16000k", "1 M", "2Gb", "81920", "64 kB", "1g"]
SIZE_BAD = ["12Q", "-1", "1.5M", "k", "16E", "99999999999999999999", "1 M B", "0x100"]


@pytest.mark.parametrize("value", SIZE_GOOD)
@pytest.mark.parametrize("name", OF_TYPE("size"))
def test_size_good_values(runner, name, value):
    # a big total memory makes any page size acceptable (it is not allocated
    # up front); it may not exceed this machine's memory
    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    env = {"SCOREP_TOTAL_MEMORY": f"{machine // 1024}k", name: value}
    run = run_ok(runner, env)
    assert run.stderr == ""
    assert cfg_sourced(run.experiment)[name] == str(parse_size(value))


@pytest.mark.parametrize("value", SIZE_BAD)
@pytest.mark.parametrize("name", OF_TYPE("size"))
def test_size_bad_values(runner, name, value):
    assert_config_error(runner.script(SCRIPT, env={name: value}), name, value)


def test_total_memory_below_two_pages(runner):
    run = runner.script(SCRIPT, env={"SCOREP_TOTAL_MEMORY": "8k", "SCOREP_PAGE_SIZE": "8k"})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "SCOREP_TOTAL_MEMORY" in lines[0]
    assert "8k" in lines[0] or "8192" in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_sizes_are_powers_of_1024(runner):
    run = run_ok(runner, {"SCOREP_TOTAL_MEMORY": "16000k", "SCOREP_PAGE_SIZE": "1 M"})
    values = cfg_sourced(run.experiment)
    assert values["SCOREP_TOTAL_MEMORY"] == "16384000"
    assert values["SCOREP_PAGE_SIZE"] == "1048576"


@pytest.mark.parametrize("value", ["100", "1", " 7 ", "100000"])
@pytest.mark.parametrize("name", OF_TYPE("number"))
def test_number_good_values(runner, name, value):
    run = run_ok(runner, {name: value})
    assert cfg_sourced(run.experiment)[name] == str(int(value))


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "10k", "0x10", "1e3"])
@pytest.mark.parametrize("name", OF_TYPE("number"))
def test_number_bad_values(runner, name, value):
    assert_config_error(runner.script(SCRIPT, env={name: value}), name, value)


@pytest.mark.parametrize("value", ["tsc", "clock_gettime", "gettimeofday", "GETTIMEOFDAY", ""])
def test_timer_good_values(runner, value):
    run = runner.script(SCRIPT, env={"SCOREP_TIMER": value})
    if value == "tsc" and run.returncode != 0 and "not usable" in run.stderr:
        pytest.skip("no invariant TSC here: " + run.stderr.strip())
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ran\n"
    assert cfg_sourced(run.experiment)["SCOREP_TIMER"] in (value.lower(),) + (TIMER_NAMES if not value else ())


@pytest.mark.parametrize("value", ["sundial", "rdtsc", "clock", "tsc,gettimeofday"])
def test_timer_bad_values(runner, value):
    assert_config_error(runner.script(SCRIPT, env={"SCOREP_TIMER": value}), "SCOREP_TIMER", value)


@pytest.mark.parametrize("value,profile", [("none", False), ("cube4", True), ("default", True), ("Cube4", True)])
def test_profiling_format_good_values(runner, value, profile):
    run = run_ok(runner, {"SCOREP_PROFILING_FORMAT": value, "SCOREP_ENABLE_PROFILING": "true"})
    assert (run.experiment / "profile.cubex").is_file() == profile, sorted(os.listdir(run.experiment))
    assert cfg_sourced(run.experiment)["SCOREP_PROFILING_FORMAT"] == value.lower()


@pytest.mark.parametrize("value", ["tau_snapshot", "cube_tuple", "cube5", "otf2"])
def test_profiling_format_that_this_project_does_not_write(runner, value):
    # Score-P knows tau_snapshot and cube_tuple; this project must say clearly
    # that it does not write them instead of silently writing something else
    run = runner.script(SCRIPT, env={"SCOREP_PROFILING_FORMAT": value, "SCOREP_ENABLE_PROFILING": "true"})
    assert_config_error(run, "SCOREP_PROFILING_FORMAT", value)


def test_profiling_base_name(runner):
    run = run_ok(runner, {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_PROFILING_BASE_NAME": "my_run"})
    assert sorted(p.name for p in run.experiment.glob("*.cubex")) == ["my_run.cubex"]


def test_profiling_base_name_with_a_slash_fails_before_the_script_or_works(runner):
    # a base name that cannot be written must not lose the profile silently
    # at the end of a run that exits 0
    run = runner.script(SCRIPT, env={"SCOREP_ENABLE_PROFILING": "true", "SCOREP_PROFILING_BASE_NAME": "sub/prof"})
    if run.returncode != 0:
        assert_config_error(run, "SCOREP_PROFILING_BASE_NAME", "sub/prof")
    else:
        assert run.stderr == "", run.stderr
        assert list(run.experiment.rglob("*.cubex")), sorted(os.listdir(run.experiment))


def test_machine_name_reaches_the_trace(runner):
    run = run_ok(runner, {"SCOREP_MACHINE_NAME": "testbox 7"})
    assert cfg_sourced(run.experiment)["SCOREP_MACHINE_NAME"] == "testbox 7"
    out = subprocess.run(["otf2-print", "-G", str(run.experiment / "traces.otf2")], capture_output=True, text=True)
    if out.returncode == 0:
        assert '"testbox 7"' in out.stdout


# path variables

def test_experiment_directory_good_value(runner):
    run = run_ok(runner, {"SCOREP_EXPERIMENT_DIRECTORY": "my exp"})
    assert (runner.cwd / "my exp" / "traces.otf2").is_file()
    assert cfg_sourced(runner.cwd / "my exp")["SCOREP_EXPERIMENT_DIRECTORY"] == "my exp"
    assert scorep_dirs(runner.cwd) == []


@pytest.mark.parametrize("value", ["afile", "afile/sub"])
def test_experiment_directory_bad_values(runner, value):
    (runner.cwd / "afile").write_text("keep me\n")
    run = runner.script(SCRIPT, env={"SCOREP_EXPERIMENT_DIRECTORY": value})
    assert_config_error(run, "SCOREP_EXPERIMENT_DIRECTORY", value)
    assert (runner.cwd / "afile").read_text() == "keep me\n"


def test_filtering_file_good_value(runner):
    (runner.cwd / "rules").write_text("SCOREP_REGION_NAMES_BEGIN\nEXCLUDE builtins:print\nSCOREP_REGION_NAMES_END\n")
    run = run_ok(runner, {"SCOREP_FILTERING_FILE": "rules"})
    assert cfg_sourced(run.experiment)["SCOREP_FILTERING_FILE"] == "rules"
    assert "builtins:print" not in run.trace().regions


@pytest.mark.parametrize("value", ["no-such-file", "adir"])
def test_filtering_file_bad_values(runner, value):
    (runner.cwd / "adir").mkdir()
    run = runner.script(SCRIPT, env={"SCOREP_FILTERING_FILE": value})
    assert_config_error(run, "SCOREP_FILTERING_FILE", value)


def test_two_bad_values_give_one_line(runner):
    run = runner.script(SCRIPT, env={"SCOREP_TOTAL_MEMORY": "12Q", "SCOREP_TIMER": "sundial"})
    assert run.returncode != 0
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert "SCOREP_TOTAL_MEMORY" in run.stderr or "SCOREP_TIMER" in run.stderr
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_bad_value_with_a_named_directory_creates_nothing(runner):
    run = runner.script(SCRIPT, env={"SCOREP_PAGE_SIZE": "1.5M", "SCOREP_EXPERIMENT_DIRECTORY": "named"})
    assert_config_error(run, "SCOREP_PAGE_SIZE", "1.5M", named_dir="named")


@pytest.mark.parametrize("variable, value", [("SCOREP_PYTHON_DRAIN_THREAD", "maybe"),
                                             ("SCOREP_PYTHON_CLOCK_OFFSETS", "sometimes"),
                                             ("SCOREP_IO_POSIX", "perhaps")])
def test_bad_option_values_are_refused(runner, variable, value):
    run = runner.script(SCRIPT, env={variable: value})
    assert_config_error(run, variable, value)


def test_unparsable_value_in_the_environment_of_plain_python_is_harmless(runner):
    # only `python -m scorep` measures; importing scorep in a plain run does not
    run = runner.script("import scorep, scorep.user\nprint('ran')\n", scorep=False,
                        env={"SCOREP_TOTAL_MEMORY": "12Q"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ran\n"


# --------------------------------------------------------------------------
# SCOREP_VERBOSE

VERBOSE_SCRIPT = """
import sys, time
print("out 1")
time.sleep(0.001)
print("out 2")
"""


@pytest.mark.parametrize("how", ["env", "option"])
def test_verbose_reports_on_stderr_only(runner, how):
    env = {"SCOREP_TIMER": "clock_gettime"}
    options = []
    if how == "env":
        env["SCOREP_VERBOSE"] = "true"
    else:
        options = ["--verbose"]
    run = runner.script(VERBOSE_SCRIPT, env=env, options=options)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "out 1\nout 2\n"
    lines = run.stderr.splitlines()
    assert lines, "nothing reported"
    assert all(line.startswith("[Score-P]") for line in lines), run.stderr
    directory_lines = [line for line in lines if "experiment directory" in line]
    assert directory_lines, run.stderr
    timer_lines = [line for line in lines if "timer" in line]
    assert timer_lines and "clock_gettime" in timer_lines[0], run.stderr
    # the directory it names is the one the results end up in (or its temporary name)
    assert str(run.experiment) in run.stderr or "scorep-measurement-tmp" in directory_lines[0]


def test_not_verbose_by_default(runner):
    run = runner.script(VERBOSE_SCRIPT)
    assert run.returncode == 0
    assert run.stderr == ""
    assert run.stdout == "out 1\nout 2\n"


# --------------------------------------------------------------------------
# SCOREP_TIMER

NAP = """
import time
def nap():
    time.sleep(0.05)
nap()
"""


@pytest.mark.parametrize("timer", ["gettimeofday", "clock_gettime"])
def test_timer_gives_nanosecond_ticks_and_real_durations(runner, timer):
    run = runner.script(NAP, env={"SCOREP_TIMER": timer, "SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    assert trace.timer_resolution == 10**9
    events = [e for e in trace.events() if e.region == "time:sleep"]
    assert [e.kind for e in events] == ["enter", "leave"], events
    seconds = trace.seconds(events[1].time - events[0].time)
    assert 0.05 - 1e-6 <= seconds <= 0.5, seconds
    assert 0.05 - 1e-6 <= trace.seconds(trace.trace_length) <= 60
    # the profile's times are in seconds with the same clock
    from helpers.cube_profile import read_profile
    profile = read_profile(run.experiment / "profile.cubex")
    sleep = profile.node("__main__:<module>", "__main__:nap", "time:sleep")
    assert 0.05 - 1e-6 <= float(sleep.inclusive.sum()) <= 0.5
    assert cfg_sourced(run.experiment)["SCOREP_TIMER"] == timer


def test_tsc_timer_durations(runner):
    run = runner.script(NAP, env={"SCOREP_TIMER": "tsc"})
    if run.returncode != 0 and "not usable" in run.stderr:
        pytest.skip(run.stderr.strip())
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    assert 10**8 <= trace.timer_resolution <= 10**11
    events = [e for e in trace.events() if e.region == "time:sleep"]
    seconds = trace.seconds(events[1].time - events[0].time)
    assert 0.049 <= seconds <= 0.5, seconds
