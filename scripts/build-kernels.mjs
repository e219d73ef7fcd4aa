#!/usr/bin/env node
// Compiles the AssemblyScript kernels (src/kernels) to dist/kernels/{simd,relaxed}.wasm.
// Part of `npm run build` (and so of `npm install` and `npm test`); the .wasm files are build
// outputs and are never committed. Both builds import a shared memory and allocate nothing.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}/dist/kernels`, { recursive: true });

const common = ['src/kernels/index.ts', '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536', '--baseDir', root];
const builds = [
  { out: 'dist/kernels/simd.wasm', features: 'simd,threads' },
  { out: 'dist/kernels/relaxed.wasm', features: 'simd,threads,relaxed-simd' },
];
for (const b of builds) {
  const { error, stderr } = await asc.main([...common, '--enable', b.features, '-o', b.out]);
  if (error) {
    process.stderr.write(stderr.toString());
    process.stderr.write(`build-kernels: ${b.out}: ${error.message}\n`);
    process.exit(1);
  }
}
process.stdout.write(`build-kernels: ${builds.map((b) => b.out).join(', ')}\n`);
