"""Small file systems for the tests of full and read-only disks: tmpfs
mounts (CI runs as root)."""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def tmpfs(mount: Path, size: str, inodes: int = 0) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "2m") mounted at `mount` (made if missing),
    with room for `inodes` files and directories (0: as many as fit)."""
    mount.mkdir(exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True,
                          text=True)
    assert done.returncode == 0, f"mounting a tmpfs needs root: {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill the disk with the file `filler` up to `leave` bytes free (0: until
    nothing more fits)."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            handle.write(b"x" * max(0, free - leave))
            while not leave and handle.write(b"x" * 4096):
                pass
        except OSError:  # no space left
            pass
