#!/bin/sh
# One-shot deftnn benchmark on a bare x86-64 Linux GPU machine (no Node.js, no network), from the
# bundle that scripts/gpu-bundle.ts builds (this file is that bundle's run.sh).
#
#   OUT=/some/dir sh run.sh [extra bench args, e.g. --quick]
#
# Unpacks node, Dawn and the onnxruntime binaries into a temporary folder, extracts Debian's
# Vulkan loader from its .deb, points the loader at the NVIDIA Vulkan driver (or, failing that,
# at whatever driver is installed, and says so), then runs the whole benchmark (bench/run.ts with
# the roofline) under a time limit and writes the tables and a log to $OUT (default ./out).
# Environment: OUT, LIMIT_S (hard limit for the benchmark, default 450 s), BENCH_TIME_LIMIT_S
# (no new case starts after this, default 300 s), KEEP_WORK=1 keeps the unpacked folder.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/out}
LIMIT_S=${LIMIT_S:-450}
BENCH_TIME_LIMIT_S=${BENCH_TIME_LIMIT_S:-300}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deftnn-gpu.XXXXXX") || exit 1
LOG="$OUT/run.log"
: >"$LOG"

say() { echo "[run.sh] $*" | tee -a "$LOG" >&2; }
fail() { say "FAILED: $*"; exit 1; }

cleanup() { if [ "${KEEP_WORK:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# ---- unpack ----

unxz_to() { # unxz_to SRC.xz DST
  if command -v xz >/dev/null 2>&1; then xz -dc -- "$1" >"$2"
  elif command -v unxz >/dev/null 2>&1; then unxz -c -- "$1" >"$2"
  elif command -v python3 >/dev/null 2>&1; then python3 -c 'import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"
  elif command -v busybox >/dev/null 2>&1; then busybox xz -dc "$1" >"$2"
  else fail "no xz, unxz, python3 or busybox to decompress $1"
  fi
}

t0=$(date +%s)
say "bundle: $HERE"
say "work folder: $WORK; output: $OUT"
head -5 "$HERE/MANIFEST" 2>/dev/null | sed 's/^/[run.sh]   /' | tee -a "$LOG" >&2
unxz_to "$HERE/node.xz" "$WORK/node" || fail "unpacking node"
chmod +x "$WORK/node"
unxz_to "$HERE/dawn.node.xz" "$WORK/dawn.node" || fail "unpacking dawn.node"
cp "$HERE/bench.mjs" "$WORK/bench.mjs"
mkdir -p "$WORK/ort-node" "$WORK/assets/ort-web"
for f in "$HERE"/ort-node/*.xz; do [ -e "$f" ] && { unxz_to "$f" "$WORK/ort-node/$(basename "$f" .xz)" || fail "unpacking $f"; }; done
for f in "$HERE"/assets/*; do [ -f "$f" ] && cp "$f" "$WORK/assets/"; done
for f in "$HERE"/assets/ort-web/*; do
  case "$f" in
    *.xz) unxz_to "$f" "$WORK/assets/ort-web/$(basename "$f" .xz)" || fail "unpacking $f" ;;
    *) cp "$f" "$WORK/assets/ort-web/" ;;
  esac
done

# ---- the Vulkan loader (libvulkan.so.1) from Debian's package ----

deb=$(ls "$HERE"/debs/libvulkan1_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no libvulkan1 .deb in $HERE/debs"
mkdir -p "$WORK/vk"
if command -v dpkg-deb >/dev/null 2>&1; then
  dpkg-deb -x "$deb" "$WORK/vk" || fail "dpkg-deb -x $deb"
else
  # A .deb is an ar archive holding data.tar.*; without dpkg (or ar), python3 reads the ar.
  mkdir -p "$WORK/deb"
  if command -v ar >/dev/null 2>&1; then (cd "$WORK/deb" && ar x "$deb") || fail "ar x $deb"
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$deb" "$WORK/deb" <<'PY' || fail "reading $deb with python3"
import sys, os
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'!<arch>\n', 'not an ar archive'
i = 8
while i + 60 <= len(data):
    name = data[i:i+16].decode().strip().rstrip('/')
    size = int(data[i+48:i+58].decode().strip())
    open(os.path.join(sys.argv[2], name), 'wb').write(data[i+60:i+60+size])
    i += 60 + size + (size & 1)
PY
  else fail "no dpkg-deb, ar or python3 to open $deb"
  fi
  tarball=$(ls "$WORK"/deb/data.tar.* | head -1)
  case "$tarball" in
    *.xz) unxz_to "$tarball" "$WORK/deb/data.tar" && tar -xf "$WORK/deb/data.tar" -C "$WORK/vk" ;;
    *.gz) tar -xzf "$tarball" -C "$WORK/vk" ;;
    *.zst) (command -v zstd >/dev/null && zstd -dc "$tarball" | tar -xf - -C "$WORK/vk") ;;
    *) tar -xf "$tarball" -C "$WORK/vk" ;;
  esac || fail "extracting $tarball"
fi
vklib=$(dirname "$(find "$WORK/vk" -name 'libvulkan.so.1*' | head -1)")
[ -d "$vklib" ] || fail "libvulkan.so.1 not found in $deb"
say "Vulkan loader: $(basename "$deb") -> $vklib"

# ---- the Vulkan driver (ICD) ----

ICD_DIRS="/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/etc/vulkan/icd.d /usr/lib/x86_64-linux-gnu/vulkan/icd.d /etc/glvnd/vulkan/icd.d"
for d in $(echo "${XDG_DATA_DIRS:-}" | tr ':' ' '); do ICD_DIRS="$ICD_DIRS $d/vulkan/icd.d"; done
icd=""
for d in $ICD_DIRS; do
  for f in "$d"/nvidia*.json; do [ -f "$f" ] && { icd=$f; break 2; }; done
done
if [ -z "$icd" ]; then
  # Containers sometimes mount the driver's libraries without its manifest: write one.
  nvlib=""
  for f in $(ldconfig -p 2>/dev/null | sed -n 's/.*libGLX_nvidia\.so\.0.*=> *//p') /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/lib/libGLX_nvidia.so.0; do
    [ -f "$f" ] && { nvlib=$f; break; }
  done
  if [ -n "$nvlib" ]; then
    icd="$WORK/nvidia_icd.json"
    printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$nvlib" >"$icd"
    say "no NVIDIA ICD manifest found; wrote $icd for $nvlib"
  fi
fi
if [ -n "$icd" ]; then
  say "Vulkan driver: NVIDIA ($icd)"
else
  for d in $ICD_DIRS; do
    for f in "$d"/*.json; do [ -f "$f" ] && icd="${icd:+$icd:}$f"; done
  done
  if [ -n "$icd" ]; then say "WARNING: no NVIDIA Vulkan driver found; using whatever drivers exist: $icd"
  else say "WARNING: no Vulkan driver manifest found in $ICD_DIRS; Dawn will probably find no adapter"
  fi
fi
[ -n "$icd" ] && { export VK_ICD_FILENAMES="$icd"; export VK_DRIVER_FILES="$icd"; }
export LD_LIBRARY_PATH="$vklib:$WORK/ort-node${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- machine ----

{
  echo "[run.sh] machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //') x $(nproc 2>/dev/null)"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/[run.sh] GPU: /'
  missing=$(ldd "$WORK/node" "$WORK/dawn.node" 2>&1 | grep 'not found')
  [ -n "$missing" ] && echo "[run.sh] WARNING: missing libraries: $missing"
} | tee -a "$LOG" >&2
"$WORK/node" -e "require('$WORK/dawn.node')" 2>>"$LOG" || fail "dawn.node does not load here (see $LOG: glibc >= 2.34 and libstdc++ with GLIBCXX_3.4.30 are needed)"
say "unpacked in $(( $(date +%s) - t0 )) s"

# ---- run ----

export DEFTNN_BENCH_ASSETS="$WORK/assets"
export HOME="${HOME:-$WORK}"
cd "$WORK" || fail "cd $WORK"
say "running: node bench.mjs --out $OUT --roofline --time-limit $BENCH_TIME_LIMIT_S $* (hard limit ${LIMIT_S} s)"
status_file="$WORK/status"
{
  if command -v timeout >/dev/null 2>&1; then limit="timeout -k 10 $LIMIT_S"; else limit=""; say "WARNING: no timeout command: no hard limit"; fi
  $limit "$WORK/node" "$WORK/bench.mjs" --out "$OUT" --roofline --time-limit "$BENCH_TIME_LIMIT_S" "$@" 2>&1
  echo $? >"$status_file"
} | tee -a "$LOG"
rc=$(cat "$status_file" 2>/dev/null || echo 1)
[ "$rc" = 124 ] && say "benchmark stopped at the hard limit of $LIMIT_S s; the tables in $OUT hold what finished"
cat "$OUT"/bench.md "$OUT"/roofline.md >"$OUT/tables.md" 2>/dev/null
say "exit $rc after $(( $(date +%s) - t0 )) s; tables: $OUT/tables.md ($(ls "$OUT" | tr '\n' ' '))"
exit "$rc"
