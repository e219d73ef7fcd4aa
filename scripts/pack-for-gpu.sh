#!/usr/bin/env bash
# Packs what `npm run bench:gpu` needs onto a GPU machine that has no Node.js and no network
# (the H100 runs in docs/webgpu.md "On an NVIDIA H100" were made this way). Writes, in the repo root:
#   .gpu/node.xz       this machine's node binary, xz-compressed (~24 MB)
#   .gpu/pack.tar.xz   dist/ plus the runtime node_modules (production deps; webgpu's linux-x64 dawn.node only)
#   .gl/*.deb          Debian's libvulkan1 / libegl1 / libglvnd0 (amd64) for the Vulkan loader
# On the GPU machine, from the repo root:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
#   python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.gpu/node.xz'),open('/tmp/node','wb'))"; chmod +x /tmp/node
#   python3 -c "import tarfile;tarfile.open('.gpu/pack.tar.xz').extractall('.')"
#   PATH=/tmp:$PATH node scripts/bench-gpu.mjs
# Add `/.gpu/` and `/.gl/` to .git/info/exclude so they are never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
rm -rf .gpu/stage && mkdir -p .gpu/stage/node_modules .gl
for m in $(npm ls --omit=dev --parseable --all 2>/dev/null | sed "s#$PWD/##" | grep '^node_modules/' | grep -v '^node_modules/webgpu$'); do
  mkdir -p ".gpu/stage/$(dirname "$m")" && cp -a "$m" ".gpu/stage/$m"
done
mkdir -p .gpu/stage/node_modules/webgpu/dist
cp -a node_modules/webgpu/{index.js,package.json,LICENSE.md} .gpu/stage/node_modules/webgpu/
cp -a node_modules/webgpu/dist/linux-x64 .gpu/stage/node_modules/webgpu/dist/
cp -a dist .gpu/stage/dist
(cd .gpu/stage && tar -cJf ../pack.tar.xz node_modules dist) && rm -rf .gpu/stage
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists'
mkdir -p /tmp/amd64-lists/partial && apt-get $o update -q >/dev/null && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0)
ls -la .gpu .gl
