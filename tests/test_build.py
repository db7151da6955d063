"""The build: a missing OTF2 installation is one clear line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_missing_otf2_config_names_the_debian_package(tmp_path):
    # a copy of the build files, and a PATH that has python but no otf2-config
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(os.path.join(ROOT, "src"), tmp_path / "src")
    shutil.copytree(os.path.join(ROOT, "scorep"), tmp_path / "scorep",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    run = subprocess.run([str(bin_dir / "python"), "setup.py", "build_ext"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert "otf2-config" in last and "libotf2-trace-dev" in last, run.stderr
    assert not list(tmp_path.glob("scorep/*.so"))
