#!/usr/bin/env bash
# Installs everything deftnn needs on a fresh Debian 12 machine (run as root): Mesa's lavapipe
# (a Vulkan driver on the CPU, from bookworm-backports: Debian 12's own Mesa is too old for Dawn),
# the Fashion-MNIST data set (Debian's dataset-fashion-mnist), Chromium (for the browser tests),
# fonts and a word list for rendering OCR data (fonts-noto-cjk for Chinese, DejaVu and Liberation
# for Latin, wamerican), ONNX's backend test data (libonnx-testdata), and the npm dependencies.
# Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

sources=/etc/apt/sources.list.d/debian.sources
if [ -f "$sources" ] && ! grep -q 'bookworm-backports' "$sources"; then
  sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$sources"
fi
packages=(dataset-fashion-mnist chromium fonts-noto-cjk fonts-dejavu-core fonts-liberation2 wamerican libonnx-testdata)
missing=0
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing=1; done
if ! dpkg -s mesa-vulkan-drivers 2>/dev/null | grep -q '^Version: 2[5-9]' || [ "$missing" = 1 ]; then
  apt-get update -q
  apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers libvulkan1
  apt-get install -y -q "${packages[@]}"
fi
command -v xz >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q xz-utils; } # GPU bundle (npm run bundle:gpu)

cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
