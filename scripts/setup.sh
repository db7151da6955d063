#!/usr/bin/env bash
# Idempotent setup for building and testing scorep:
#   * Debian packages: the OTF2 library (libotf2-trace-dev) and its tools
#     (otf2-tools, for otf2-print), PAPI (libpapi-dev) and pkg-config, which
#     the build finds it with, Open MPI (openmpi-bin, libopenmpi-dev: the
#     MPI wrapper library is built against it); apt-get runs only when one
#     is missing.
#   * Python packages for the tests (pytest, otf2, pycubexr, coverage,
#     build), mpi4py built from source against that Open MPI, and scorep
#     itself, built from this checkout.
# The interpreter is $PYTHON (default: python3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}

log() { echo "setup: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

packages=(libotf2-trace-dev otf2-tools libpapi-dev pkg-config openmpi-bin libopenmpi-dev)
# The C core needs a compiler; Debian's own python3 also needs pip and headers.
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || packages+=(gcc)
if [ "$(command -v "$PYTHON")" = /usr/bin/python3 ]; then
    packages+=(python3-dev python3-pip python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    log "Debian packages present: ${packages[*]}"
fi

# Debian's python3 refuses pip installs outside a venv (PEP 668).
if "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi

log "installing pytest, otf2, pycubexr, coverage and build for $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
"$PYTHON" -m pip install -q pytest otf2 pycubexr coverage build

# built against the MPI that mpicc names, as the wrappers are (pip keeps the
# wheel it built in its cache: later runs take it from there)
log "installing mpi4py for $PYTHON, built against $(mpicc --showme:version 2>&1 | head -n 1)"
"$PYTHON" -m pip install -q --no-binary=mpi4py mpi4py

log "building and installing scorep from $(pwd)"
"$PYTHON" -m pip install -q .

log "done"
