/**
 * dispatch — prepared kernel launches. A `Dispatch` is a pipeline, a bind group (with its own
 * small uniform buffer) and a workgroup count, built once and encoded any number of times: the
 * backend's matmul calls build them per call, the decoder builds every launch of a decode step
 * once and only re-encodes them.
 */
/// <reference types="@webgpu/types" />
import { gpuBuffer } from './weights.js';
import { packParams, type PipelineKey, type Pipelines } from './pipelines.js';

export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** buffers owned by this dispatch (its uniforms), destroyed by releaseDispatches */
  owned: GPUBuffer[];
}

export interface KernelContext {
  device: GPUDevice;
  pipelines: Pipelines;
}

/** A buffer bound at binding i: a whole buffer, or a range of it. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Build one launch: binding 0 is a fresh uniform buffer holding `params`; `bindings` follow at 1, 2, …
 * (null leaves a number out, for an entry point that does not use it; `extra` adds bindings by
 * number, e.g. a shared per-step uniform).
 */
export async function makeDispatch(ctx: KernelContext, key: PipelineKey, params: (number | { f: number })[], bindings: (Binding | null)[], workgroups: [number, number, number], extra: Record<number, Binding> = {}): Promise<Dispatch> {
  const pipeline = await ctx.pipelines.get(key);
  const uni = gpuBuffer(ctx.device, new Uint8Array(packParams(params)), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${key.shader} params`);
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uni } }];
  const add = (i: number, b: Binding) => entries.push({ binding: i, resource: typeof (b as GPUBuffer).destroy === 'function' ? { buffer: b as GPUBuffer } : (b as GPUBufferBinding) });
  bindings.forEach((b, i) => b && add(i + 1, b));
  for (const [i, b] of Object.entries(extra)) add(Number(i), b);
  const bindGroup = ctx.device.createBindGroup({ label: key.shader, layout: pipeline.getBindGroupLayout(0), entries });
  return { pipeline, bindGroup, workgroups, owned: [uni] };
}

export function encodeDispatches(pass: GPUComputePassEncoder, ds: readonly Dispatch[]): void {
  for (const d of ds) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

export function releaseDispatches(ds: readonly Dispatch[]): void {
  for (const d of ds) for (const b of d.owned) b.destroy();
}
