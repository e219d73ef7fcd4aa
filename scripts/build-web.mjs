#!/usr/bin/env node
// The webgpu backend's and the browser demo's build outputs (part of `npm run build`):
//   dist/backend/webgpu/shaders/*.wgsl   the WGSL sources, read at run time in Node
//   dist/web/                            the demo page: index.html, tritwise-demo.js (esbuild
//                                        bundle, WGSL inlined), tritwise-pool-worker.js (wasm pool
//                                        Web Worker) and kernels/*.wasm (from build-kernels.mjs)
// Node built-ins reached by modules the page never calls (file loaders, Dawn) are replaced by an
// empty module; calling one in the browser fails loudly.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shaderDir = `${root}src/backend/webgpu/shaders`;
const shaders = {};
mkdirSync(`${root}dist/backend/webgpu/shaders`, { recursive: true });
for (const f of readdirSync(shaderDir).filter((f) => f.endsWith('.wgsl'))) {
  shaders[f.replace(/\.wgsl$/, '')] = readFileSync(`${shaderDir}/${f}`, 'utf8');
  copyFileSync(`${shaderDir}/${f}`, `${root}dist/backend/webgpu/shaders/${f}`);
}

const web = `${root}dist/web`;
mkdirSync(`${web}/kernels`, { recursive: true });
copyFileSync(`${root}src/web/index.html`, `${web}/index.html`);
for (const k of ['simd.wasm', 'relaxed.wasm']) copyFileSync(`${root}dist/kernels/${k}`, `${web}/kernels/${k}`);

const nodeStub = {
  name: 'node-stub',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|fs|path|os|url|worker_threads|crypto|module|util|child_process|webgpu)$/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({ contents: `module.exports = new Proxy({}, { get: (_, k) => k === '__esModule' ? false : () => { throw new Error(${JSON.stringify('not available in the browser: ')} + ${JSON.stringify(a.path)} + '.' + String(k)); } });`, loader: 'js' }));
  },
};

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', sourcemap: true, logLevel: 'warning', plugins: [nodeStub], define: { __TRITWISE_SHADERS__: JSON.stringify(shaders) } };
await build({ ...common, entryPoints: [`${root}src/web/demo.ts`], outfile: `${web}/tritwise-demo.js` });
await build({ ...common, entryPoints: [`${root}src/web/pool-worker.ts`], outfile: `${web}/tritwise-pool-worker.js` });
process.stdout.write(`build-web: ${Object.keys(shaders).length} shaders, dist/web/{index.html, tritwise-demo.js, tritwise-pool-worker.js, kernels/}\n`);
