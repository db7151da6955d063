"""Build of the scorep package: its native parts, linked against the system
OTF2 library found with otf2-config:

* scorep/libscorep_measurement.so: the measurement core and its substrates
  (src/core, src/substrates), one shared library per process that the
  CPython extension and the MPI and I/O wrapper libraries all link, so that
  they record into the same measurement;
* scorep._native: the CPython event source (src/sources/cpython), which
  finds the library next to itself ($ORIGIN);
* scorep/libscorep_mpi.so: the MPI wrapper library (src/sources/mpi), whose
  wrappers are generated from the mpi.h of the MPI that mpicc names, built
  when mpicc is found (Debian: libopenmpi-dev; SCOREP_WITHOUT_MPI=1 builds
  without); python -m scorep --mpp=mpi preloads it;
* scorep/libscorep_io.so: the POSIX I/O wrapper library (src/sources/io);
  python -m scorep --io=posix (or SCOREP_IO_POSIX=true) preloads it;

and scorep.pth, installed next to the package, the start-up hook of the
processes that python -m scorep launches (scorep/_boot.py)."""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

OTF2_HINT = ("scorep: error: the OTF2 library was not found (otf2-config is missing); "
             "install it with: apt-get install libotf2-trace-dev otf2-tools")
CORE_LIBRARY = "scorep.libscorep_measurement"
MPI_LIBRARY = "scorep.libscorep_mpi"
IO_LIBRARY = "scorep.libscorep_io"
LIBRARIES = {CORE_LIBRARY: "libscorep_measurement.so", MPI_LIBRARY: "libscorep_mpi.so",
             IO_LIBRARY: "libscorep_io.so"}
STARTUP_HOOK = "scorep.pth"
COMMON_FLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wno-missing-field-initializers", "-D_GNU_SOURCE",
                # hidden symbols: only the scorep_* interface leaves a library, and
                # the hot path reads its own globals directly, not through the GOT
                "-fvisibility=hidden", "-fno-plt"]


def version():
    """The version, written once: scorep/__init__.py's __version__."""
    text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scorep", "__init__.py")).read()
    return re.search(r'^__version__ = "([^"]+)"$', text, re.M).group(1)


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
    """PAPI hardware counters are optional: used when pkg-config finds papi
    (Debian: libpapi-dev); SCOREP_WITHOUT_PAPI=1 builds without.  The core
    loads the library (by its soname) only when counters are asked for."""
    pkg_config = shutil.which("pkg-config")
    if os.environ.get("SCOREP_WITHOUT_PAPI") or not pkg_config:
        return [], []

    def ask(option):
        return subprocess.run([pkg_config, option, "papi"], capture_output=True, text=True)

    cflags = ask("--cflags")
    if cflags.returncode != 0 or ask("--libs").returncode != 0:
        return [], []
    soname = papi_soname(ask("--variable=libdir").stdout.strip())
    return ["-DSCOREP_HAVE_PAPI", f'-DSCOREP_PAPI_LIBRARY="{soname}"'] + cflags.stdout.split(), ["-ldl"]


def papi_soname(libdir):
    """The name the dynamic loader knows libpapi by (libpapi.so.7.0 on
    Debian 12): its SONAME, as readelf shows it."""
    library = os.path.join(libdir, "libpapi.so") if libdir else ""
    readelf = shutil.which("readelf")
    if library and readelf and os.path.exists(library):
        shown = subprocess.run([readelf, "-d", library], capture_output=True, text=True).stdout
        found = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", shown)
        if found:
            return found.group(1)
    import ctypes.util

    return ctypes.util.find_library("papi") or "libpapi.so"


def headers():
    return glob.glob("src/**/*.h", recursive=True) + glob.glob("src/**/*.def", recursive=True)


def core_library():
    cflags, ldflags = otf2_flags()
    papi_cflags, papi_ldflags = papi_flags()
    return Extension(
        CORE_LIBRARY,
        sources=sorted(glob.glob("src/core/*.c") + glob.glob("src/substrates/*.c")),
        depends=headers(),
        extra_compile_args=COMMON_FLAGS + [f'-DSCOREP_VERSION="{version()}"'] + cflags + papi_cflags,
        extra_link_args=ldflags + papi_ldflags + ["-lpthread", "-Wl,-soname,libscorep_measurement.so"],
    )


def mpi_flags():
    """The compile and link flags of the MPI that mpicc wraps (Open MPI:
    --showme:compile/--showme:link, MPICH: -compile-info/-link-info), or
    None without one."""
    mpicc = os.environ.get("MPICC") or shutil.which("mpicc")
    if os.environ.get("SCOREP_WITHOUT_MPI") or not mpicc:
        return None

    def ask(*options):
        try:
            done = subprocess.run([mpicc, *options], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.split() if done.returncode == 0 else None

    compile_flags, link_flags = ask("--showme:compile"), ask("--showme:link")
    if compile_flags is None or link_flags is None:
        compile_flags, link_flags = ask("-compile-info"), ask("-link-info")
        if compile_flags is None or link_flags is None:
            return None
        compile_flags, link_flags = compile_flags[1:], link_flags[1:]  # the compiler's name first
    return compile_flags, link_flags


def mpi_header(compile_flags):
    for flag in compile_flags:
        if flag.startswith("-I") and os.path.isfile(os.path.join(flag[2:], "mpi.h")):
            return os.path.join(flag[2:], "mpi.h")
    return "/usr/include/mpi.h" if os.path.isfile("/usr/include/mpi.h") else None


def mpi_library():
    flags = mpi_flags()
    header = mpi_header(flags[0]) if flags else None
    if not header:
        return None
    extension = Extension(
        MPI_LIBRARY,
        sources=sorted(glob.glob("src/sources/mpi/*.c")),
        depends=headers() + ["src/sources/mpi/generate.py"],
        libraries=["scorep_measurement"],
        extra_compile_args=COMMON_FLAGS + flags[0],
        extra_link_args=flags[1] + ["-Wl,-rpath,$ORIGIN", "-Wl,-soname,libscorep_mpi.so"],
    )
    extension.mpi_header = header
    return extension


def io_library():
    """The I/O wrapper library, POSIX and ISO C (python -m scorep --io=posix preloads it)."""
    return Extension(
        IO_LIBRARY,
        # (streams' handles are kept in a pointer map of its own, as the extension's C function cache)
        sources=sorted(glob.glob("src/sources/io/*.c")) + ["src/core/ptrmap.c"],
        depends=headers(),
        libraries=["scorep_measurement", "dl"],
        extra_compile_args=COMMON_FLAGS,
        extra_link_args=["-Wl,-rpath,$ORIGIN", "-Wl,-soname,libscorep_io.so"],
    )


def cpython_extension():
    return Extension(
        "scorep._native",
        # the pointer map is a plain data structure (no measurement state): a
        # copy of its own serves the extension's C function cache
        sources=sorted(glob.glob("src/sources/cpython/*.c")) + ["src/core/ptrmap.c"],
        depends=headers(),
        libraries=["scorep_measurement"],
        extra_compile_args=COMMON_FLAGS,
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    )


class build_with_startup_hook(build_py):
    """Puts scorep.pth next to the package: site imports scorep._boot at
    every interpreter start that python -m scorep launched (the line tests
    one environment variable otherwise, nothing more)."""

    def run(self):
        super().run()
        self.copy_file(STARTUP_HOOK, os.path.join(self.build_lib, STARTUP_HOOK), preserve_mode=0)


class build_native(build_ext):
    """Builds the core library first, under its own name (no Python ABI
    tag: it does not depend on Python), then the extension against it."""

    def get_ext_filename(self, fullname):
        # asked with the full name and with its last part alone
        for library, filename in LIBRARIES.items():
            if fullname in (library, library.split(".")[-1]):
                return os.path.join(*fullname.split(".")[:-1], filename)
        return super().get_ext_filename(fullname)

    def build_extension(self, ext):
        if ext.name != CORE_LIBRARY:
            library_dir = os.path.dirname(self.get_ext_fullpath(CORE_LIBRARY))
            if library_dir not in ext.library_dirs:
                ext.library_dirs.append(library_dir)
        if ext.name == MPI_LIBRARY:
            # the wrappers, from the mpi.h of the MPI they are built for
            generated = os.path.join(self.build_temp, "mpi_generated")
            os.makedirs(generated, exist_ok=True)
            source = os.path.join(generated, "wrappers_generated.c")
            table = os.path.join(generated, "functions_generated.c")
            subprocess.run([sys.executable, "src/sources/mpi/generate.py", ext.mpi_header, source,
                            os.path.join(generated, "wrappers_generated.h"), table], check=True)
            ext.sources += [path for path in (source, table) if path not in ext.sources]
            ext.include_dirs += [generated, "src/sources/mpi"]
        super().build_extension(ext)


# setup() is also imported for metadata queries (egg_info), which need no
# compiler; only building the extensions needs OTF2.
needs_build = not any(arg in sys.argv for arg in ("egg_info", "dist_info", "sdist", "--version", "--name"))
def extensions():
    mpi = mpi_library()
    return [core_library(), cpython_extension(), io_library()] + ([mpi] if mpi else [])


setup(ext_modules=extensions() if needs_build else [],
      cmdclass={"build_ext": build_native, "build_py": build_with_startup_hook})
