#!/usr/bin/env bash
# Installs what the webgpu and browser tests need on a fresh Debian 12 (bookworm) machine, as
# root (or through sudo):
#   - Mesa's lavapipe (software Vulkan) from bookworm-backports: Dawn (npm `webgpu`) rejects
#     Debian 12's own Mesa 22.3 (missing shaderUniform*ArrayDynamicIndexing); 25.x works;
#   - the Vulkan loader (libvulkan1);
#   - Debian's chromium, driven by playwright-core in test/web (its WebGPU uses the SwiftShader
#     that Chromium bundles).
# bookworm-backports is enabled by copying the machine's own deb.debian.org entry with
# `Suites: bookworm-backports` (so a snapshot mirror stays a snapshot mirror). Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
start=$(date +%s)

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # the first stanza that names the plain `bookworm` suite, with only the backports suite
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /Suites:[^\n]*bookworm( |$|\n)/ && !done { sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print; done = 1 }' \
      /etc/apt/sources.list.d/debian.sources | $SUDO tee /etc/apt/sources.list.d/debian-backports.sources >/dev/null
  else
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/debian-backports.list >/dev/null
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "install-software-gpu: lavapipe $(dpkg-query -W -f '${Version}' mesa-vulkan-drivers), chromium $(dpkg-query -W -f '${Version}' chromium) in $(( $(date +%s) - start )) s"
