#!/usr/bin/env node
// `npm run bench:gpu` — the WebGPU benchmark on this machine's GPU through Dawn's Vulkan backend
// (`tritwise bench --backend webgpu --json`, written to bench/out/gpu.json and printed).
//
// A GPU machine may have the NVIDIA driver but not the Vulkan loader. In order, this script:
//   1. uses the system's libvulkan.so.1 when the dynamic linker knows it;
//   2. else the one unpacked from Debian's libvulkan1 (and libegl1, libglvnd0) .debs in
//      .tmp/gpu-libs, which `npm run bench:gpu:setup` (`--setup`) fetches with apt-get download
//      on a machine that has apt (carry .tmp/gpu-libs along);
//   3. if an NVIDIA device exists but no Vulkan ICD manifest names the NVIDIA driver (containers
//      often mount libGLX_nvidia.so.0 without /usr/share/vulkan/icd.d/nvidia_icd.json), writes
//      one in .tmp/gpu-libs and points VK_ICD_FILENAMES at it.
// Then it runs the benchmark with a 5-minute limit (BENCH_GPU_TIMEOUT_S overrides it). Extra
// arguments go to `tritwise bench`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const libs = `${root}.tmp/gpu-libs`;
const say = (s) => process.stderr.write(`bench:gpu: ${s}\n`);
const args = process.argv.slice(2);

if (args[0] === '--setup') {
  const debs = `${root}.tmp/gpu-debs`;
  mkdirSync(debs, { recursive: true });
  const pkgs = ['libvulkan1', 'libegl1', 'libglvnd0'];
  const r = spawnSync('apt-get', ['download', ...pkgs], { cwd: debs, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`apt-get download ${pkgs.join(' ')} failed (needs Debian/Ubuntu apt with network)`);
    process.exit(1);
  }
  mkdirSync(libs, { recursive: true });
  for (const f of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    const x = spawnSync('dpkg-deb', ['-x', `${debs}/${f}`, libs], { stdio: 'inherit' });
    if (x.status !== 0) process.exit(1);
  }
  say(`unpacked ${readdirSync(debs).join(', ')} into ${libs}`);
  process.exit(0);
}

function systemHas(lib) {
  const r = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(lib);
}

function find(dir, name) {
  if (!existsSync(dir)) return null;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      const q = find(p, name);
      if (q) return q;
    } else if (e.name === name) return p;
  }
  return null;
}

const env = { ...process.env };
if (systemHas('libvulkan.so.1')) say('Vulkan loader: the system libvulkan.so.1');
else {
  const lv = find(libs, 'libvulkan.so.1');
  if (!lv) {
    say(`no libvulkan.so.1 on this machine and none in ${libs}: run \`npm run bench:gpu:setup\` where apt works and bring .tmp/gpu-libs along`);
    process.exit(1);
  }
  const dir = lv.slice(0, lv.lastIndexOf('/'));
  env.LD_LIBRARY_PATH = [dir, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  say(`Vulkan loader: ${lv} (unpacked from Debian's libvulkan1)`);
}

const nvidia = existsSync('/dev/nvidia0') || existsSync('/proc/driver/nvidia/version');
if (nvidia && !env.VK_ICD_FILENAMES) {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const named = dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => /nvidia/i.test(f) || /nvidia/i.test(readFileSync(`${d}/${f}`, 'utf8'))));
  if (!named) {
    if (systemHas('libGLX_nvidia.so.0')) {
      mkdirSync(libs, { recursive: true });
      const icd = `${libs}/nvidia_icd.json`;
      writeFileSync(icd, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: 'libGLX_nvidia.so.0', api_version: '1.3.0' } }, null, 2));
      env.VK_ICD_FILENAMES = icd;
      say(`NVIDIA Vulkan ICD: wrote ${icd} (libGLX_nvidia.so.0; the driver has no ICD manifest installed)`);
    } else say('an NVIDIA device exists but neither a Vulkan ICD manifest nor libGLX_nvidia.so.0 was found: Dawn may only see a software adapter');
  } else say('NVIDIA Vulkan ICD: the installed manifest');
}

mkdirSync(`${root}bench/out`, { recursive: true });
if (nvidia) say('an NVIDIA device is present: the report\'s machine.adapter must name it (a "llvmpipe" adapter means Dawn did not reach the driver)');
const r = spawnSync(process.execPath, [`${root}bin/tritwise.js`, 'bench', '--backend', 'webgpu', '--json', '-o', `${root}bench/out/gpu.json`, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 1000 * Number(process.env.BENCH_GPU_TIMEOUT_S || 300) });
if (r.error) say(`benchmark did not finish: ${r.error.message}`);
process.exit(r.status ?? 1);
