import { describe } from 'vitest';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';
import { backendConformance } from './conformance.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
if (why) console.warn(`skipping webgpu tests: ${why}`);

describe.skipIf(why !== null)('webgpu', () => {
  backendConformance('webgpu', () => WebGpuBackend.create());
  // every weight cut into shards of a few rows: the per-shard launches and row offsets
  backendConformance('webgpu, 256-byte shards', () => WebGpuBackend.create({ maxBindingBytes: 256 }), { runs: 25 });
});
