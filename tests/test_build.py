"""The build: a missing OTF2 installation is one clear line, whether the
package is built by pip (as users install it) or by setup.py directly."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

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
