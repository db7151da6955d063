"""SCOREP_FILTERING_FILE: Score-P filter files applied to real scripts.

Every measurement here writes both a trace and a profile; a filtered region
must be gone from both: no region definition, no enter/leave events, no
call path in the profile.  Its callees are still recorded and hang below the
filtered function's caller.
"""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import Iterable, Optional

import pytest

from helpers.cube_profile import check_invariants, read_profile  # noqa: E402  (tests/ is on sys.path)

MODULE = "__main__:<module>"
MAIN = "__main__:main"


# --------------------------------------------------------------------------
# Helpers

class Measured:
    """A run with a filter file, its trace and its profile."""

    def __init__(self, run, filter_path: Optional[Path]):
        assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
        assert run.stderr == "", run.stderr
        self.run = run
        self.filter_path = filter_path
        self.experiment = run.experiment
        self.trace = run.trace()
        self.trace.check_balanced()
        self.profile = read_profile(self.experiment / "profile.cubex")
        check_invariants(self.profile)

    # trace
    @property
    def counts(self):
        return self.trace.enter_counts()

    @property
    def tree(self):
        return self.trace.call_tree()

    # profile
    @property
    def profile_regions(self) -> list:
        return [r.name for r in self.profile.regions]

    def describe(self) -> str:
        return "trace call tree:\n{}\nprofile:\n{}".format(self.trace.format_call_tree(), self.profile.format())

    def assert_absent(self, *names: str) -> None:
        for name in names:
            assert name not in self.trace.regions, f"{name} has a region definition in the trace\n{self.describe()}"
            events = [e for e in self.trace.events() if e.region == name]
            assert not events, f"{len(events)} trace events for filtered {name}: {events[:4]}"
            assert name not in self.profile_regions, f"{name} has a region in the profile\n{self.profile.format()}"
            paths = [p for p in self.profile.nodes if name in p]
            assert not paths, f"profile call paths through filtered {name}: {paths}"

    def assert_count(self, name: str, count: int) -> None:
        """Exactly `count` enters in the trace and visits in the profile."""
        assert self.counts[name] == count, f"{name}: {self.counts[name]} enters, expected {count}\n{self.describe()}"
        assert self.profile.region_visits()[name] == count, \
            f"{name}: {self.profile.region_visits()[name]} visits, expected {count}\n{self.profile.format()}"
        assert name in self.trace.regions
        assert name in self.profile_regions

    def assert_path(self, path: Iterable[str], count: int) -> None:
        """The call path (from __main__:<module> down) in trace and profile."""
        path = tuple(path)
        assert self.tree[path] == count, f"trace path {path}: {self.tree[path]}, expected {count}\n{self.describe()}"
        assert self.profile.visits(*path) == count, \
            f"profile path {path}: {self.profile.visits(*path)}, expected {count}\n{self.profile.format()}"


def write_filter(runner, text: str, name: str = "rules.filter") -> Path:
    path = runner.cwd / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def measure(runner, script: str, filter_text: Optional[str], *, options=(), files: Optional[dict] = None,
            filter_name: str = "rules.filter", env: Optional[dict] = None) -> Measured:
    for name, text in (files or {}).items():
        runner.write(name, text)
    environment = {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "true"}
    path = None
    if filter_text is not None:
        path = write_filter(runner, filter_text, filter_name)
        environment["SCOREP_FILTERING_FILE"] = str(path)
    environment.update(env or {})
    run = runner.script(script, options=list(options), env=environment)
    return Measured(run, path)


def scorep_dirs(cwd: Path) -> list:
    return sorted(p.name for p in cwd.iterdir() if p.name.startswith("scorep-"))


# --------------------------------------------------------------------------
# Region-name block

HELPERS = """
import time

def helper_a():
    pass

def helper_b():
    helper_a()

def helper_c():
    pass

def keeper():
    pass

def main():
    for _ in range(3):
        helper_a()
    for _ in range(2):
        helper_b()
    for _ in range(4):
        helper_c()
    keeper()

main()
print("ran")
"""


def test_exclude_with_wildcard(runner):
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper*
        SCOREP_REGION_NAMES_END
    """)
    assert m.run.stdout == "ran\n"
    m.assert_absent("__main__:helper_a", "__main__:helper_b", "__main__:helper_c")
    m.assert_count(MODULE, 1)
    m.assert_count(MAIN, 1)
    m.assert_count("__main__:keeper", 1)
    m.assert_path([MODULE, MAIN, "__main__:keeper"], 1)
    # nothing else of the script lost: C calls stay
    m.assert_count("builtins:print", 1)


def test_include_after_exclude_re_includes_one_region(runner):
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper*
          INCLUDE __main__:helper_b
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:helper_a", "__main__:helper_c")
    m.assert_count("__main__:helper_b", 2)
    m.assert_path([MODULE, MAIN, "__main__:helper_b"], 2)
    # helper_a inside helper_b is still filtered
    assert not [p for p in m.tree if "__main__:helper_a" in p]
    m.assert_count("__main__:keeper", 1)


def test_last_matching_rule_wins(runner):
    # the same two rules in the other order: the EXCLUDE comes last and wins
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          INCLUDE __main__:helper_b
          EXCLUDE __main__:helper*
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:helper_a", "__main__:helper_b", "__main__:helper_c")
    m.assert_count("__main__:keeper", 1)


def test_rules_apply_in_order_across_several_blocks(runner):
    # two region blocks are one list of rules, in file order
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE *
        SCOREP_REGION_NAMES_END
        SCOREP_REGION_NAMES_BEGIN
          INCLUDE __main__:*
          EXCLUDE __main__:helper_c
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:helper_c", "builtins:print")
    m.assert_count("__main__:helper_a", 3 + 2)
    m.assert_count("__main__:helper_b", 2)
    m.assert_count(MAIN, 1)
    assert all(name.startswith("__main__:") for name in m.counts), m.counts
    assert all(name.startswith("__main__:") or name == m.profile.root_name for name in m.profile_regions), \
        m.profile_regions


def test_patterns_continue_on_following_lines(runner):
    m = measure(runner, """
        def alpha(): pass
        def beta(): pass
        def gamma(): pass
        def delta(): pass
        def main():
            alpha(); beta(); gamma(); delta(); delta()
        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE
             __main__:alpha
             __main__:beta      __main__:gamma

             __main__:nothing_of_that_name
          INCLUDE
             __main__:beta
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:alpha", "__main__:gamma")
    m.assert_count("__main__:beta", 1)
    m.assert_count("__main__:delta", 2)
    m.assert_path([MODULE, MAIN, "__main__:delta"], 2)


def test_keywords_and_patterns_separated_by_tabs_and_crlf(runner):
    text = "SCOREP_REGION_NAMES_BEGIN\r\n\tEXCLUDE\t__main__:alpha\r\nSCOREP_REGION_NAMES_END\r\n"
    path = runner.cwd / "crlf.filter"
    path.write_bytes(text.encode())
    run = runner.script("def alpha(): pass\ndef beta(): pass\nalpha(); beta()\n",
                        env={"SCOREP_ENABLE_PROFILING": "true", "SCOREP_FILTERING_FILE": str(path)})
    m = Measured(run, path)
    m.assert_absent("__main__:alpha")
    m.assert_count("__main__:beta", 1)


def test_comments(runner):
    m = measure(runner, """
        def drop(): pass
        def drop2(): pass
        def keep(): pass
        def keep2(): pass
        def keep3(): pass
        def main():
            drop(); drop2(); keep(); keep2(); keep3()
        main()
    """, """
        # a comment before the block: EXCLUDE __main__:keep
        SCOREP_REGION_NAMES_BEGIN # a comment after a keyword
          # EXCLUDE __main__:keep
          EXCLUDE __main__:drop   # __main__:keep2 is in the comment
          EXCLUDE __main__:drop2#__main__:keep3 (no space before the comment)
        SCOREP_REGION_NAMES_END
        # EXCLUDE after the block, in a comment, is no syntax error
    """)
    m.assert_absent("__main__:drop", "__main__:drop2")
    for name in ("__main__:keep", "__main__:keep2", "__main__:keep3"):
        m.assert_count(name, 1)


HASH_SCRIPT = """
def make(module):
    namespace = {"__name__": module}
    exec("def f():\\n    pass\\n", namespace)
    return namespace["f"]

hashed = make("odd#mod")
plain = make("odd")
other = make("oddXmod")

def main():
    hashed(); hashed()
    plain()
    other()

main()
"""


def test_escaped_hash_is_part_of_the_pattern(runner):
    m = measure(runner, HASH_SCRIPT, r"""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE odd\#mod:*
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("odd#mod:f")
    m.assert_count("odd:f", 1)
    m.assert_count("oddXmod:f", 1)


def test_unescaped_hash_starts_a_comment_inside_a_pattern(runner):
    # "odd#mod:*" is the pattern "odd" followed by a comment: matches nothing here
    m = measure(runner, HASH_SCRIPT, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE odd#mod:*
        SCOREP_REGION_NAMES_END
    """)
    m.assert_count("odd#mod:f", 2)
    m.assert_count("odd:f", 1)
    m.assert_count("oddXmod:f", 1)


def test_mangled_is_the_same_as_the_name_for_python(runner):
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE MANGLED __main__:helper*
          INCLUDE MANGLED __main__:helper_c
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:helper_a", "__main__:helper_b")
    m.assert_count("__main__:helper_c", 4)
    m.assert_count("__main__:keeper", 1)


def test_mangled_and_plain_rules_mix(runner):
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper*
          INCLUDE MANGLED __main__:helper_a
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:helper_b", "__main__:helper_c")
    # helper_a, directly from main and from inside the filtered helper_b
    m.assert_count("__main__:helper_a", 5)
    m.assert_path([MODULE, MAIN, "__main__:helper_a"], 5)


def test_question_mark_and_bracket_wildcards(runner):
    m = measure(runner, """
        def f1(): pass
        def f2(): pass
        def f3(): pass
        def fa(): pass
        def f10(): pass
        def g1(): pass
        def ga(): pass
        def main():
            for fn in (f1, f2, f3, fa, f10, g1, ga):
                fn()
        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:f?           # f1 f2 f3 fa, not f10
          INCLUDE __main__:f[13]        # back: f1 f3
          EXCLUDE __main__:g[!0-9]      # ga, not g1
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:f2", "__main__:fa", "__main__:ga")
    for name in ("__main__:f1", "__main__:f3", "__main__:f10", "__main__:g1"):
        m.assert_count(name, 1)
        m.assert_path([MODULE, MAIN, name], 1)


def test_methods_are_filtered_by_their_class_qualified_name(runner):
    m = measure(runner, """
        class Shape:
            def area(self): return 0
            def name(self): return "shape"
        class Square(Shape):
            def area(self): return super().area() + 4
        def main():
            for _ in range(3):
                Square().area()
                Shape().name()
        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__.Shape:*
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__.Shape:area", "__main__.Shape:name")
    m.assert_count("__main__.Square:area", 3)


def test_keywords_are_case_sensitive(runner):
    # "exclude" is not a keyword: a pattern without a rule, i.e. a syntax error
    path = write_filter(runner, """
        SCOREP_REGION_NAMES_BEGIN
          exclude __main__:main
        SCOREP_REGION_NAMES_END
    """)
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": str(path)})
    assert_filter_error(run, path, 2, "exclude")


# --------------------------------------------------------------------------
# Filtered functions: callees and C functions

def test_callees_of_a_filtered_function_nest_under_its_caller(runner):
    m = measure(runner, """
        import time

        def leaf():
            pass

        def middle(n):
            for _ in range(n):
                leaf()
            time.sleep(0)
            inner()

        def inner():
            leaf()

        def main():
            middle(3)
            middle(2)
            leaf()

        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:middle
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:middle")
    # 5 calls from inside middle + 1 direct, all on the same path
    m.assert_path([MODULE, MAIN, "__main__:leaf"], 3 + 2 + 1)
    m.assert_path([MODULE, MAIN, "time:sleep"], 2)
    m.assert_path([MODULE, MAIN, "__main__:inner"], 2)
    m.assert_path([MODULE, MAIN, "__main__:inner", "__main__:leaf"], 2)
    m.assert_count("__main__:leaf", 8)
    # the profile's inclusive time of main covers the callees
    main = m.profile.node(MODULE, MAIN)
    sleep = m.profile.node(MODULE, MAIN, "time:sleep")
    assert (main.inclusive >= sleep.inclusive).all()


def test_filtered_recursive_function(runner):
    m = measure(runner, """
        def leaf(): pass
        def rec(n):
            leaf()
            if n:
                rec(n - 1)
        def main():
            rec(4)
        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:rec
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:rec")
    m.assert_path([MODULE, MAIN, "__main__:leaf"], 5)
    assert m.tree[(MODULE, MAIN)] == 1


def test_filtering_c_functions(runner):
    m = measure(runner, """
        import math, time

        def main():
            items = []
            for i in range(3):
                time.sleep(0)
                items.append(len("abc") + i)
                math.sqrt(i)
            print(sorted(items))

        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE time:sleep builtins:*
        SCOREP_REGION_NAMES_END
    """)
    assert m.run.stdout == "[3, 4, 5]\n"
    m.assert_absent("time:sleep", "builtins:len", "builtins:print", "builtins:sorted")
    assert not [name for name in m.trace.regions if name.startswith("builtins:")], m.trace.regions
    assert not [name for name in m.profile_regions if name.startswith("builtins:")], m.profile_regions
    # other C functions, and methods of builtin types (builtins.list:append
    # does not match builtins:*), are still recorded
    m.assert_path([MODULE, MAIN, "math:sqrt"], 3)
    m.assert_path([MODULE, MAIN, "builtins.list:append"], 3)
    m.assert_count(MAIN, 1)


def test_c_functions_called_by_a_filtered_python_function_are_recorded(runner):
    m = measure(runner, """
        import math
        def quiet(x):
            return math.sqrt(x)
        def main():
            for i in range(4):
                quiet(i)
        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:quiet
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:quiet")
    m.assert_path([MODULE, MAIN, "math:sqrt"], 4)


def test_filtering_with_the_trace_instrumenter(runner):
    m = measure(runner, HELPERS, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper*
          INCLUDE __main__:helper_b
        SCOREP_REGION_NAMES_END
    """, options=["--instrumenter-type=trace"])
    m.assert_absent("__main__:helper_a", "__main__:helper_c")
    m.assert_count("__main__:helper_b", 2)
    m.assert_count("__main__:keeper", 1)


def test_filtering_in_threads(runner):
    m = measure(runner, """
        import threading
        def noisy(): pass
        def kept(): pass
        def worker():
            for _ in range(10):
                noisy()
            kept()
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        worker()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:noisy
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("__main__:noisy")
    m.assert_count("__main__:kept", 4)
    m.assert_count("__main__:worker", 4)
    assert len(m.trace.locations) == 4


def test_a_filtered_c_method_stays_filtered_however_it_is_reached(runner):
    # the decision is made once per C function; calling it through a
    # subclass first must not give the plain dict.fromkeys another name
    m = measure(runner, """
        class D(dict):
            pass

        def main():
            D.fromkeys([1])
            dict.fromkeys([2])
            dict.fromkeys([3])

        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE builtins.dict:fromkeys
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("builtins.dict:fromkeys")
    fromkeys = {name: n for name, n in m.counts.items() if name.endswith(":fromkeys")}
    # at most the subclass call, if it is named after the subclass
    assert sum(fromkeys.values()) <= 1, fromkeys


def test_user_regions_are_filtered_by_name(runner):
    # Score-P's user adapter checks the filter when a user region is defined;
    # a filtered user region records nothing and its end is no error
    m = measure(runner, """
        import scorep.user

        def work():
            pass

        def main():
            for _ in range(2):
                with scorep.user.region("noise"):
                    work()
                scorep.user.region_begin("noise_too")
                work()
                scorep.user.region_end("noise_too")
                with scorep.user.region("kept"):
                    work()

        main()
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE user:noise*
        SCOREP_REGION_NAMES_END
    """)
    m.assert_absent("user:noise", "user:noise_too")
    m.assert_path([MODULE, MAIN, "__main__:work"], 4)
    m.assert_path([MODULE, MAIN, "user:kept", "__main__:work"], 2)


# --------------------------------------------------------------------------
# File-name block

FILE_SCRIPT = """
import helpers.util
import other

def main():
    for _ in range(3):
        helpers.util.work()
    other.leaf()

main()
print("ran")
"""

FILE_MODULES = {
    "helpers/__init__.py": "",
    "helpers/util.py": """
        import time
        import other

        def _inner():
            return 1

        def work():
            other.leaf()
            other.leaf()
            time.sleep(0)
            return _inner()
    """,
    "other.py": """
        def leaf():
            pass
    """,
}


def test_file_block_excludes_a_helper_module(runner):
    m = measure(runner, FILE_SCRIPT, """
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */helpers/*
        SCOREP_FILE_NAMES_END
    """, files=FILE_MODULES)
    assert m.run.stdout == "ran\n"
    m.assert_absent("helpers.util:work", "helpers.util:_inner", "helpers.util:<module>", "helpers:<module>")
    assert not [name for name in m.trace.regions if name.startswith("helpers")], m.trace.regions
    # calls into other modules from inside the filtered functions are kept,
    # below the filtered function's caller
    m.assert_path([MODULE, MAIN, "other:leaf"], 3 * 2 + 1)
    m.assert_path([MODULE, MAIN, "time:sleep"], 3)
    m.assert_count("other:leaf", 7)
    m.assert_count(MAIN, 1)
    # the region definitions that remain carry their source files
    assert m.trace.region("other:leaf").source_file == str(runner.cwd / "other.py")


def test_file_block_wins_over_region_block(runner):
    m = measure(runner, FILE_SCRIPT, """
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */helpers/*
        SCOREP_FILE_NAMES_END
        SCOREP_REGION_NAMES_BEGIN
          INCLUDE helpers.util:work
          INCLUDE *
        SCOREP_REGION_NAMES_END
    """, files=FILE_MODULES)
    m.assert_absent("helpers.util:work", "helpers.util:_inner")
    m.assert_path([MODULE, MAIN, "other:leaf"], 7)


def test_file_block_wins_even_when_the_region_block_comes_first(runner):
    m = measure(runner, FILE_SCRIPT, """
        SCOREP_REGION_NAMES_BEGIN
          INCLUDE helpers.util:work
        SCOREP_REGION_NAMES_END
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */helpers/*
        SCOREP_FILE_NAMES_END
    """, files=FILE_MODULES)
    m.assert_absent("helpers.util:work")


def test_region_block_still_applies_to_files_the_file_block_includes(runner):
    m = measure(runner, FILE_SCRIPT, """
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */helpers/*
          INCLUDE */helpers/util.py
        SCOREP_FILE_NAMES_END
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE helpers.util:_inner
        SCOREP_REGION_NAMES_END
    """, files=FILE_MODULES)
    m.assert_absent("helpers:<module>", "helpers.util:_inner")  # __init__.py stays excluded
    m.assert_count("helpers.util:work", 3)
    m.assert_path([MODULE, MAIN, "helpers.util:work", "other:leaf"], 6)
    m.assert_path([MODULE, MAIN, "helpers.util:work", "time:sleep"], 3)


def test_file_patterns_see_the_absolute_path(runner):
    # a relative script name on the command line; the pattern is absolute
    m = measure(runner, FILE_SCRIPT, f"""
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE {runner.cwd}/other.py
        SCOREP_FILE_NAMES_END
    """, files=FILE_MODULES)
    m.assert_absent("other:leaf", "other:<module>")
    m.assert_count("helpers.util:work", 3)
    m.assert_count("helpers.util:_inner", 3)


def test_escaped_hash_in_a_file_pattern(runner):
    m = measure(runner, """
        import sys
        sys.path.insert(0, "lib#1")
        import hashed
        hashed.f()
        hashed.f()
    """, r"""
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */lib\#1/*
        SCOREP_FILE_NAMES_END
    """, files={"lib#1/hashed.py": "def f():\n    pass\n"})
    m.assert_absent("hashed:f", "hashed:<module>")
    m.assert_count(MODULE, 1)


def test_file_block_does_not_filter_c_functions(runner):
    # C functions have no source file: an all-excluding file block leaves them
    m = measure(runner, """
        import time
        def main():
            time.sleep(0)
        main()
    """, """
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE *
        SCOREP_FILE_NAMES_END
    """)
    m.assert_absent(MODULE, MAIN)
    assert m.tree[("time:sleep",)] == 1, m.trace.format_call_tree()
    assert m.profile.visits("time:sleep") == 1, m.profile.format()


# --------------------------------------------------------------------------
# The filter file in the experiment; empty filters

def test_filter_file_is_copied_into_the_experiment(runner):
    text = """
        # my filter
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper*   # helpers are noise
        SCOREP_REGION_NAMES_END
    """
    m = measure(runner, HELPERS, text, filter_name="my.filt")
    copy = m.experiment / "my.filt"
    assert copy.is_file(), sorted(os.listdir(m.experiment))
    assert copy.read_bytes() == m.filter_path.read_bytes()
    # the configuration names the filter file that was used
    cfg = (m.experiment / "scorep.cfg").read_text()
    assert f"SCOREP_FILTERING_FILE='{m.filter_path}'" in cfg.splitlines(), cfg


def test_filter_file_from_another_directory_is_copied_too(runner, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("filters") / "rules.txt"
    elsewhere.write_text("SCOREP_REGION_NAMES_BEGIN\nEXCLUDE __main__:helper_a\nSCOREP_REGION_NAMES_END\n")
    run = runner.script(HELPERS, env={"SCOREP_ENABLE_PROFILING": "true",
                                      "SCOREP_FILTERING_FILE": str(elsewhere)})
    m = Measured(run, elsewhere)
    m.assert_absent("__main__:helper_a")
    assert (m.experiment / "rules.txt").read_bytes() == elsewhere.read_bytes()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # and another\n",
                                  "SCOREP_REGION_NAMES_BEGIN\nSCOREP_REGION_NAMES_END\n"
                                  "SCOREP_FILE_NAMES_BEGIN\nSCOREP_FILE_NAMES_END\n"],
                         ids=["empty", "blank-lines", "comments", "empty-blocks"])
def test_empty_filter_records_everything(runner, text):
    unfiltered = measure(runner, HELPERS, None)
    for path in runner.cwd.iterdir():
        if path.name.startswith("scorep-"):
            path.rename(runner.cwd / ("old-" + path.name))
    filtered = measure(runner, HELPERS, text)
    for m in (unfiltered, filtered):
        m.assert_count("__main__:helper_a", 5)
        m.assert_count("__main__:helper_b", 2)
        m.assert_count("__main__:helper_c", 4)
        m.assert_count("builtins:print", 1)
    script_regions = lambda names: sorted(n for n in names if n.startswith("__main__") or n.startswith("builtins:"))
    assert script_regions(filtered.trace.regions) == script_regions(unfiltered.trace.regions)
    script_paths = lambda tree: {p: n for p, n in tree.items() if p[0] == MODULE}
    assert script_paths(filtered.tree) == script_paths(unfiltered.tree)
    assert (filtered.experiment / "rules.filter").read_bytes() == filtered.filter_path.read_bytes()


def test_filtered_function_called_a_million_times_leaves_no_trace(runner):
    m = measure(runner, """
        def tiny(x):
            return x + 1

        def main():
            total = 0
            for i in range(1_000_000):
                total = tiny(total)
            return total

        print(main())
    """, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:tiny
        SCOREP_REGION_NAMES_END
    """)
    assert m.run.stdout == "1000000\n"
    m.assert_absent("__main__:tiny")
    m.assert_count(MAIN, 1)
    # the whole trace is tiny: nothing was recorded per call
    events = sum(len(loc.events) for loc in m.trace.locations)
    assert events < 2000, events
    assert m.profile.node(MODULE, MAIN).visits.tolist() == [1]
    assert [p for p in m.profile.nodes if len(p) > 1 and p[1] == MODULE] == \
        [p for p in m.profile.nodes if len(p) > 1 and p[1] == MODULE and "__main__:tiny" not in p]


# --------------------------------------------------------------------------
# Syntax errors

def assert_filter_error(run, path: Path, line: int, text: str, quoted: bool = True) -> str:
    """Non-zero exit, exactly one stderr line naming file, line and text;
    the script did not run and no experiment directory was made."""
    assert run.returncode != 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{run.stderr}"
    message = lines[0]
    assert f"{path}:{line}:" in message, message
    assert (f"'{text}'" if quoted else text) in message, message
    assert "ran" not in run.stdout, run.stdout
    assert run.stdout == "", run.stdout
    assert scorep_dirs(run.cwd) == [], scorep_dirs(run.cwd)
    return message


# (filter text, line of the problem, offending text)
SYNTAX_ERRORS = {
    "unknown-word-outside-block": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
        SCOREP_REGION_NAMES_END
        BOGUS __main__:helper_b
    """, 4, "BOGUS"),
    "rule-outside-block": ("""
        # comment
        EXCLUDE __main__:helper_a
    """, 2, "EXCLUDE"),
    "pattern-without-rule": ("""
        SCOREP_REGION_NAMES_BEGIN
          __main__:helper_a
        SCOREP_REGION_NAMES_END
    """, 2, "__main__:helper_a"),
    "end-without-begin": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
        SCOREP_REGION_NAMES_END
        SCOREP_REGION_NAMES_END
    """, 4, "SCOREP_REGION_NAMES_END"),
    "wrong-end": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
        SCOREP_FILE_NAMES_END
    """, 3, "SCOREP_FILE_NAMES_END"),
    "begin-inside-block": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
        SCOREP_FILE_NAMES_BEGIN
        SCOREP_FILE_NAMES_END
    """, 3, "SCOREP_FILE_NAMES_BEGIN"),
    "mangled-in-file-block": ("""
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE MANGLED */helpers/*
        SCOREP_FILE_NAMES_END
    """, 2, "MANGLED"),
    "empty-rule-on-one-line": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
          INCLUDE SCOREP_REGION_NAMES_END
    """, 3, None),
    "empty-mangled-rule": ("""
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE MANGLED SCOREP_REGION_NAMES_END
    """, 2, None),
}


@pytest.mark.parametrize("case", list(SYNTAX_ERRORS))
def test_syntax_errors(runner, case):
    text, line, offending = SYNTAX_ERRORS[case]
    path = write_filter(runner, text)
    run = runner.script(HELPERS, env={"SCOREP_ENABLE_PROFILING": "true", "SCOREP_FILTERING_FILE": str(path)})
    if offending is None:
        # an empty rule: either its keyword or the token that ends it is named
        message = assert_filter_error(run, path, line, "", quoted=False)
        assert re.search(r"'(EXCLUDE|INCLUDE|MANGLED|SCOREP_REGION_NAMES_END)'", message), message
    else:
        assert_filter_error(run, path, line, offending)


def test_empty_rule_followed_by_another_rule(runner):
    path = write_filter(runner, """
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE

          INCLUDE __main__:helper_a
        SCOREP_REGION_NAMES_END
    """)
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": str(path)})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    # names the empty EXCLUDE on line 2, or the INCLUDE on line 4 that ends it
    assert f"{path}:2:" in lines[0] and "'EXCLUDE'" in lines[0] \
        or f"{path}:4:" in lines[0] and "'INCLUDE'" in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_missing_end(runner):
    path = write_filter(runner, """
        SCOREP_FILE_NAMES_BEGIN
          EXCLUDE */helpers/*
        SCOREP_FILE_NAMES_END
        SCOREP_REGION_NAMES_BEGIN
          EXCLUDE __main__:helper_a
    """)
    run = runner.script(HELPERS, env={"SCOREP_ENABLE_PROFILING": "true", "SCOREP_FILTERING_FILE": str(path)})
    message = assert_filter_error(run, path, 4, "SCOREP_REGION_NAMES_BEGIN", quoted=False)
    assert "SCOREP_REGION_NAMES_END" in message, message


def test_syntax_error_with_tracing_off_and_a_named_directory(runner):
    path = write_filter(runner, "EXCLUDE x\n")
    run = runner.script(HELPERS, env={"SCOREP_ENABLE_TRACING": "false", "SCOREP_FILTERING_FILE": str(path),
                                      "SCOREP_EXPERIMENT_DIRECTORY": "named"})
    assert_filter_error(run, path, 1, "EXCLUDE")
    assert not (runner.cwd / "named").exists()


def test_relative_filter_path_is_named_as_given(runner):
    write_filter(runner, "SCOREP_REGION_NAMES_BEGIN\n  oops\nSCOREP_REGION_NAMES_END\n", "bad.filter")
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": "bad.filter"})
    assert_filter_error(run, Path("bad.filter"), 2, "oops")


def test_missing_filter_file(runner):
    missing = runner.cwd / "no-such.filter"
    run = runner.script(HELPERS, env={"SCOREP_ENABLE_PROFILING": "true", "SCOREP_FILTERING_FILE": str(missing)})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert str(missing) in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_filter_file_that_is_a_directory(runner):
    (runner.cwd / "adir").mkdir()
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": str(runner.cwd / "adir")})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert str(runner.cwd / "adir") in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_pattern_too_long(runner):
    path = write_filter(runner, "SCOREP_REGION_NAMES_BEGIN\n  EXCLUDE " + "x" * 5000 + "\nSCOREP_REGION_NAMES_END\n")
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": str(path)})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert f"{path}:2:" in lines[0], lines[0]
    assert "xxxx" in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []


def test_binary_filter_file(runner):
    path = runner.cwd / "binary.filter"
    path.write_bytes(b"SCOREP_REGION_NAMES_BEGIN\n\0EXCLUDE *\nSCOREP_REGION_NAMES_END\n")
    run = runner.script(HELPERS, env={"SCOREP_FILTERING_FILE": str(path)})
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert str(path) in lines[0], lines[0]
    assert run.stdout == ""
    assert scorep_dirs(runner.cwd) == []
