#!/usr/bin/env bash
# Trace examples/demo.py with scorep: sets up, runs the demo in demo-run/
# and shows the experiment directory and the start of its OTF2 trace.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
PYTHON=${PYTHON:-python3}

log() { echo "demo: $*" >&2; }

PYTHON=$PYTHON bash scripts/setup.sh

mkdir -p demo-run
cd demo-run

log "running: SCOREP_ENABLE_TRACING=true $PYTHON -m scorep examples/demo.py (in demo-run/)"
SCOREP_ENABLE_TRACING=true "$PYTHON" -m scorep "$root/examples/demo.py"

shopt -s nullglob
experiments=(scorep-*/)
if [ ${#experiments[@]} -eq 0 ]; then
    log "error: the run created no scorep-* experiment directory in demo-run/"
    exit 1
fi
newest_first=$(ls -1dt "${experiments[@]}")
experiment=${newest_first%%$'\n'*}
experiment=${experiment%/}

echo
echo "experiment directory: $root/demo-run/$experiment"
find "$experiment" -type f -printf '%10s  %p\n' | sort -k2

trace=$experiment/traces.otf2
if [ ! -f "$trace" ]; then
    log "error: no traces.otf2 in $experiment"
    exit 1
fi
echo
echo "otf2-print $trace (first 30 lines):"
output=$(otf2-print "$trace")
head -n 30 <<<"$output"

if [ -f "$experiment/profile.cubex" ]; then
    echo
    echo "$PYTHON -m scorep.report $experiment --top 10:"
    "$PYTHON" -m scorep.report "$experiment" --top 10
fi
