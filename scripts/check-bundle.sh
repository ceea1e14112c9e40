#!/bin/sh
# End-to-end check of the GPU bundle on this machine (lavapipe): copy the bundle alone into a
# fresh temporary folder and run its run.sh there as the GPU machine would, with a clean
# environment, no Node.js on PATH (a `node` there that fails if anything calls it) and no
# node_modules anywhere above it. Then check that the tables came out.
#
#   sh scripts/check-bundle.sh [BUNDLE_DIR] [bench args; default --quick]
#
# Build the bundle first (npm run bundle:gpu). With --quick (batch 1, 3 timed rounds) this takes
# 2-6 minutes on lavapipe with 2 cores (machine load decides); the output stays in the printed folder.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=${1:-$ROOT/dist/gpu-bundle}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- --quick
[ -f "$BUNDLE/run.sh" ] || { echo "no bundle at $BUNDLE: run npm run bundle:gpu" >&2; exit 1; }

T=$(mktemp -d /tmp/deftnn-bundle-check.XXXXXX)
cp -r "$BUNDLE" "$T/bundle"
mkdir -p "$T/fakebin" "$T/home" "$T/tmp"
printf '#!/bin/sh\necho "check-bundle: the bundle called node from PATH ($0), which a bare GPU machine lacks" >&2\nexit 127\n' >"$T/fakebin/node"
chmod +x "$T/fakebin/node"
for d in "$T" /tmp /; do [ -e "$d/node_modules" ] && { echo "check-bundle: $d/node_modules exists; the check would not be clean" >&2; exit 1; }; done

echo "check-bundle: running $T/bundle/run.sh $* (output in $T/out)" >&2
start=$(date +%s)
rc=0
(cd "$T" && env -i PATH="$T/fakebin:/usr/bin:/bin" HOME="$T/home" TMPDIR="$T/tmp" OUT="$T/out" sh bundle/run.sh "$@") || rc=$?
took=$(( $(date +%s) - start ))

fail() { echo "check-bundle: FAILED: $*" >&2; exit 1; }
[ "$rc" = 0 ] || fail "run.sh exited $rc after $took s (log: $T/out/run.log)"
for f in bench.md bench.json roofline.md roofline.json tables.md run.log; do [ -s "$T/out/$f" ] || fail "missing $T/out/$f"; done
grep -q '| deftnn dense fp32 |' "$T/out/bench.md" || fail "no deftnn rows in bench.md"
grep -q 'onnxruntime-web' "$T/out/bench.md" || fail "no onnxruntime-web rows in bench.md"
grep -q 'onnxruntime-node' "$T/out/bench.md" || fail "no onnxruntime-node rows in bench.md"
grep -q 'failed:' "$T/out/bench.md" && fail "a case failed (see bench.md)"
grep -q '### Peaks' "$T/out/roofline.md" || fail "no peaks in roofline.md"
[ -e "$T/tmp/"deftnn-gpu.* ] 2>/dev/null && fail "run.sh left its work folder behind"
echo "check-bundle: OK in $took s; bundle $(du -sh "$BUNDLE" | cut -f1); tables in $T/out/tables.md" >&2
