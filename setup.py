"""Build of the scorep package: the C measurement core, the OTF2 writer and
the CPython event source are compiled into one extension, scorep._native,
linked against the system OTF2 library found with otf2-config."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup

OTF2_HINT = ("scorep: error: the OTF2 library was not found (otf2-config is missing); "
             "install it with: apt-get install libotf2-trace-dev otf2-tools")


def otf2_flags():
    config = shutil.which("otf2-config")
    if not config:
        sys.exit(OTF2_HINT)

    def ask(option):
        return subprocess.run([config, option], check=True, capture_output=True, text=True).stdout.split()

    try:
        return ask("--cflags"), ask("--ldflags") + ask("--libs")
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"{OTF2_HINT} ({error})")


def papi_flags():
    """PAPI hardware counters are optional: used when libpapi-dev is installed
    (set SCOREP_WITHOUT_PAPI=1 to build without)."""
    if os.environ.get("SCOREP_WITHOUT_PAPI") or not os.path.exists("/usr/include/papi.h"):
        return [], []
    return ["-DSCOREP_HAVE_PAPI"], ["-lpapi"]


def native_extension():
    cflags, ldflags = otf2_flags()
    papi_cflags, papi_ldflags = papi_flags()
    cflags += papi_cflags
    ldflags += papi_ldflags
    sources = sorted(glob.glob("src/core/*.c") + glob.glob("src/writers/*.c") + glob.glob("src/sources/cpython/*.c"))
    return Extension(
        "scorep._native",
        sources=sources,
        depends=glob.glob("src/**/*.h", recursive=True) + glob.glob("src/**/*.def", recursive=True),
        # hidden symbols: the hot path reads its globals directly, not through the GOT
        extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wno-missing-field-initializers", "-D_GNU_SOURCE",
                            "-fvisibility=hidden", "-fno-plt"] + cflags,
        extra_link_args=ldflags + ["-lpthread"],
    )


# setup() is also imported for metadata queries (egg_info), which need no
# compiler; only building the extension needs OTF2.
needs_build = not any(arg in sys.argv for arg in ("egg_info", "dist_info", "sdist", "--version", "--name"))
setup(ext_modules=[native_extension()] if needs_build else [])
