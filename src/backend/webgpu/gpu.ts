/**
 * gpu — opening a WebGPU device, in a browser (`navigator.gpu`) or in Node (Dawn, node-gpu.ts,
 * loaded only there). The device asks for the adapter's largest buffer limits (big embeddings)
 * and for shader-f16 when the adapter has it, and records the facts the kernels depend on.
 */
/// <reference types="@webgpu/types" />
import { TritwiseError } from '../../errors.js';

export type GpuDriver = 'auto' | 'vulkan' | 'opengl';

export interface GpuOptions {
  /** Node only: which Dawn backend to use (default 'auto': Vulkan, then OpenGL). */
  driver?: GpuDriver;
  powerPreference?: GPUPowerPreference;
}

export interface GpuDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** 'browser' or 'node (Dawn)' */
  runtime: string;
  /** the Dawn backend in Node ('vulkan' | 'opengl'); 'browser' elsewhere */
  driver: string;
  info: { vendor: string; architecture: string; device: string; description: string };
  featureLevel: 'core' | 'compatibility';
  /** WGSL dot4I8Packed is available */
  dot4: boolean;
  /** shader-f16 was enabled on the device */
  f16: boolean;
  /** timestamp-query was enabled on the device */
  timestamps: boolean;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

export async function openGpu(opts: GpuOptions = {}): Promise<GpuDevice> {
  let adapter: GPUAdapter | null = null;
  let runtime = 'browser';
  let driver = 'browser';
  let wgslFeatures: ReadonlySet<string> = new Set();
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    adapter = await nav.gpu.requestAdapter({ powerPreference: opts.powerPreference });
    if (!adapter) adapter = await nav.gpu.requestAdapter({ featureLevel: 'compatibility', powerPreference: opts.powerPreference } as GPURequestAdapterOptions);
    wgslFeatures = nav.gpu.wgslLanguageFeatures ?? new Set();
    if (!adapter) throw new TritwiseError('E_BACKEND', 'no WebGPU adapter', { where: 'navigator.gpu.requestAdapter', expected: 'an adapter', got: 'null' });
  } else if (isNode()) {
    const { nodeAdapter } = await import('./node-gpu.js');
    const r = await nodeAdapter(opts.driver ?? 'auto', opts.powerPreference);
    adapter = r.adapter;
    runtime = 'node (Dawn)';
    driver = r.driver;
    wgslFeatures = r.wgslFeatures;
  } else {
    throw new TritwiseError('E_BACKEND', 'WebGPU is not available', { where: 'navigator.gpu', expected: 'a browser with WebGPU enabled', got: 'undefined' });
  }
  const a = adapter;
  const want: GPUFeatureName[] = [];
  const f16 = a.features.has('shader-f16');
  if (f16) want.push('shader-f16');
  const timestamps = a.features.has('timestamp-query');
  if (timestamps) want.push('timestamp-query');
  const limits: Record<string, number> = {};
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize'] as const) limits[k] = a.limits[k];
  let device: GPUDevice;
  try {
    device = await a.requestDevice({ requiredFeatures: want, requiredLimits: limits });
  } catch (e) {
    throw new TritwiseError('E_BACKEND', 'requestDevice failed', { where: 'webgpu backend', got: (e as Error).message, cause: e });
  }
  const i = a.info;
  return {
    device,
    adapter: a,
    runtime,
    driver,
    info: { vendor: i?.vendor ?? '', architecture: i?.architecture ?? '', device: i?.device ?? '', description: i?.description ?? '' },
    featureLevel: a.features.has('core-features-and-limits') ? 'core' : 'compatibility',
    dot4: wgslFeatures.has('packed_4x8_integer_dot_product'),
    f16,
    timestamps,
  };
}
