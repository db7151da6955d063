"""The build: a missing OTF2 installation is one clear line, whether the
package is built by pip (as users install it) or by setup.py directly."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HINT = ("scorep: error: the OTF2 library was not found (otf2-config is missing); install it with: "
        "apt-get install libotf2-trace-dev otf2-tools")


def test_missing_otf2_config_names_the_debian_package(tmp_path):
    # a copy of the build files, and a PATH that has python but no otf2-config
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "scorep.pth"):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(os.path.join(ROOT, "src"), tmp_path / "src")
    shutil.copytree(os.path.join(ROOT, "scorep"), tmp_path / "scorep",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", str(tmp_path))}
    # pip builds in an environment of its own (with setuptools from the index)
    run = subprocess.run([str(bin_dir / "python"), "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "out"),
                          str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    # (pip indents what the build printed)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines()]
    assert HINT in lines, run.stdout + run.stderr
    assert not list(tmp_path.glob("out/*.whl")) and not list(tmp_path.glob("**/*.so"))


def test_this_python_is_declared_exactly():
    """requires-python and the classifiers name the versions the suite runs
    on (scripts/test.sh: every CPython >= 3.9 on the machine)."""
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f'"Programming Language :: Python :: {version}"' in text
    assert 'requires-python = ">=3.9,<3.14"' in text
    assert (3, 9) <= sys.version_info < (3, 14)


@pytest.mark.heavy
def test_sdist_to_wheel_to_a_fresh_virtualenv_measures(tmp_path):
    """python -m build: the sdist holds every source file; the wheel built
    from that sdist (not from the checkout) installs into a fresh
    virtualenv without anything else, imports, knows its version and
    measures a program."""
    out = tmp_path / "dist"
    sdist = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(out), ROOT], capture_output=True,
                           text=True, timeout=600)
    assert sdist.returncode == 0, sdist.stdout + sdist.stderr
    (archive,) = out.glob("scorep-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "src", "scorep", "setup.py", "pyproject.toml",
                              "scorep.pth", "MANIFEST.in", "README.md"], capture_output=True, text=True,
                             check=True).stdout.split()
    missing = sorted(set(tracked) - names)
    assert not missing, f"not in the sdist: {missing}"
    wheel = subprocess.run([sys.executable, "-m", "build", "--wheel", "-o", str(out), str(archive)],
                           capture_output=True, text=True, timeout=600)
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    (built,) = out.glob("scorep-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", str(built)], capture_output=True,
                             text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    version = re.search(r'^__version__ = "([^"]+)"$', open(os.path.join(ROOT, "scorep", "__init__.py")).read(),
                        re.M).group(1)
    assert built.name.startswith(f"scorep-{version}-")
    work = tmp_path / "work"
    work.mkdir()
    (work / "prog.py").write_text("def f():\n    return 1\nfor _ in range(3):\n    f()\nprint('measured')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env.update(SCOREP_ENABLE_TRACING="true", SCOREP_EXPERIMENT_DIRECTORY="exp")
    run = subprocess.run([python, "-m", "scorep", "prog.py"], cwd=work, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout == "measured\n" and run.stderr == "", run.stderr
    printed = subprocess.run(["otf2-print", str(work / "exp" / "traces.otf2")], capture_output=True, text=True,
                             check=True).stdout
    assert printed.count('Region: "__main__:f"') == 6  # 3 enters, 3 leaves
    assert f"scorep (Python measurement) {version}" in subprocess.run(
        ["otf2-print", "-A", str(work / "exp" / "traces.otf2")], capture_output=True, text=True, check=True).stdout
