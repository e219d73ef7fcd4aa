/**
 * node-gpu — WebGPU in Node.js through the npm package `webgpu` (Dawn). The only file of the
 * webgpu backend that knows about Node; browsers use `navigator.gpu` instead (gpu.ts).
 *
 * Driver choice ('auto' tries them in this order):
 *   'vulkan'  Dawn's Vulkan backend: a real GPU, or Mesa's lavapipe (software) — Dawn needs Mesa
 *             ≥ 23 (Debian 12: mesa-vulkan-drivers from bookworm-backports; 22.3 is rejected);
 *   'opengl'  Dawn's OpenGL ES backend with EGL_PLATFORM=surfaceless, as a 'compatibility'
 *             feature-level adapter (works on Debian 12's stock Mesa llvmpipe).
 * The GPU object Dawn returns is kept in a module variable for the life of the process: if it
 * were garbage-collected while devices are alive, Dawn aborts the process.
 */
/// <reference types="@webgpu/types" />
import { readFile } from 'node:fs/promises';
import { TritwiseError } from '../../errors.js';
import type { GpuDriver } from './gpu.js';

const alive: GPU[] = [];

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

async function dawn(): Promise<DawnModule> {
  try {
    const m = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, m.globals); // GPUBufferUsage, GPUMapMode, … as in a browser
    return m;
  } catch (e) {
    throw new TritwiseError('E_BACKEND', 'cannot load the npm package `webgpu` (Dawn for Node)', { where: 'webgpu backend', expected: 'webgpu installed (npm install)', got: (e as Error).message, cause: e });
  }
}

async function tryDriver(m: DawnModule, driver: 'vulkan' | 'opengl', powerPreference: GPUPowerPreference | undefined): Promise<{ gpu: GPU; adapter: GPUAdapter | null }> {
  if (driver === 'opengl') {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = m.create(['backend=opengl']);
    alive.push(gpu);
    return { gpu, adapter: await gpu.requestAdapter({ featureLevel: 'compatibility', powerPreference } as GPURequestAdapterOptions) };
  }
  const gpu = m.create(['backend=vulkan', 'disable-dawn-features=timestamp_quantization']);
  alive.push(gpu);
  return { gpu, adapter: await gpu.requestAdapter({ powerPreference }) };
}

/** An adapter from Dawn, with the driver that gave it. */
export async function nodeAdapter(driver: GpuDriver, powerPreference?: GPUPowerPreference): Promise<{ adapter: GPUAdapter; driver: 'vulkan' | 'opengl'; wgslFeatures: ReadonlySet<string> }> {
  const m = await dawn();
  const order: ('vulkan' | 'opengl')[] = driver === 'auto' ? ['vulkan', 'opengl'] : [driver];
  for (const d of order) {
    const { gpu, adapter } = await tryDriver(m, d, powerPreference);
    if (adapter) return { adapter, driver: d, wgslFeatures: gpu.wgslLanguageFeatures as ReadonlySet<string> };
  }
  throw new TritwiseError('E_BACKEND', 'no WebGPU adapter found', {
    where: 'webgpu backend (Dawn)',
    expected: `an adapter from ${order.join(' or ')}: a GPU with Vulkan drivers, or Mesa's lavapipe (Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1), or Mesa EGL for the opengl driver`,
    got: 'none',
  });
}

/** WGSL sources next to this file (src/ in tests, dist/ after the build copies them). */
export async function readShaderFile(name: string): Promise<string> {
  const url = new URL(`./shaders/${name}.wgsl`, import.meta.url);
  try {
    return await readFile(url, 'utf8');
  } catch (e) {
    throw new TritwiseError('E_BACKEND', 'WGSL shader missing', { where: url.pathname, expected: 'the shaders copied by `npm run build`', got: (e as Error).message, cause: e });
  }
}
