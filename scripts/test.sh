#!/usr/bin/env bash
# Run the test suite (README: bash scripts/test.sh).
#
# First with $PYTHON (default python3) after scripts/setup.sh, the whole
# suite; then with every other CPython >= 3.9 under /root/.pyenv/versions
# all but the tests marked heavy (see pyproject.toml), each in its own venv
# .venvs/<version> (created once, reused afterwards) with pytest, pycubexr, coverage,
# otf2 (optional: without it tests/otf2_trace.py reads traces with
# otf2-print) and scorep installed.  Exits non-zero if any run fails,
# including a pytest run that collects no tests (exit code 5).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
PYENV_VERSIONS=${PYENV_VERSIONS:-/root/.pyenv/versions}

log() { echo "test: $*" >&2; }

summary=()
status=0

record() {  # record PASS|FAIL "label"
    summary+=("$1  $2")
    [ "$1" = PASS ] || status=1
}

# run_suite <label> <python> [pytest options]: -I keeps the checkout's
# scorep/ (cwd) off sys.path, so the tests use the installed package.
run_suite() {
    local label=$1 python=$2 rc
    shift 2
    log "running the tests with $label"
    "$python" -I -m pytest -q "$@" tests
    rc=$?
    if [ $rc -eq 0 ]; then
        record PASS "$label"
    else
        record FAIL "$label (pytest exit code $rc)"
    fi
}

if ! PYTHON=$PYTHON bash scripts/setup.sh; then
    echo "test: FAIL: scripts/setup.sh failed" >&2
    exit 1
fi

main_version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
run_suite "Python $main_version ($PYTHON)" "$PYTHON"

if [ -d "$PYENV_VERSIONS" ]; then
    for name in $(ls -1 "$PYENV_VERSIONS" | sort -V); do
        base_python=$PYENV_VERSIONS/$name/bin/python
        [ -x "$base_python" ] || continue
        info=$("$base_python" -c 'import platform, sys
print(sys.implementation.name, platform.python_version(), int(sys.version_info >= (3, 9)))' 2>/dev/null) || continue
        read -r implementation version recent <<<"$info"
        [ "$implementation" = cpython ] && [ "$recent" = 1 ] || continue
        [ "$version" = "$main_version" ] && continue

        label="Python $version (.venvs/$version)"
        venv=.venvs/$version
        python=$venv/bin/python
        if ! "$python" -c 'import sys' >/dev/null 2>&1; then
            log "creating $venv"
            rm -rf "$venv"
            if ! "$base_python" -m venv "$venv"; then
                record FAIL "$label (creating the venv failed)"
                continue
            fi
        fi
        log "installing pytest, pycubexr, otf2 and scorep into $venv"
        if ! "$python" -m pip install -q pytest pycubexr coverage; then
            record FAIL "$label (installing pytest/pycubexr failed)"
            continue
        fi
        # No otf2 wheel exists for some versions; pip then builds the sdist
        # (about 20 s) and if that fails the tests read traces with otf2-print.
        if ! "$python" -m pip install -q otf2; then
            log "otf2 could not be installed for Python $version; using otf2-print only"
            label="$label without otf2"
        fi
        if ! "$python" -m pip install -q .; then
            record FAIL "$label (building/installing scorep failed)"
            continue
        fi
        # the heavy tests (sanitizer builds of the C core) do not depend
        # on the Python version, nor do the MPI tests (mpi4py is built for
        # the main Python): they ran with the main Python
        run_suite "$label" "$python" -m "not heavy and not mpi"
    done
fi

echo
echo "test summary:"
for line in "${summary[@]}"; do
    echo "  $line"
done
exit $status
