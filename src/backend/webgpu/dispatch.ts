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
  /** threads per workgroup of the matmul kernels: ternary-f32, ternary-int, dense (default 64 each; `bench --backend webgpu --tune` measures the best) */
  matmulWg?: { ternary?: number; int?: number; dense?: number };
  /**
   * the batch-1 integer GEMV kernel (ternary-gemv): threads per workgroup and threads per row
   * (default 256 / 64; `bench --backend webgpu` tunes them), or false to run ternary-int instead
   */
  gemv?: { wg: number; tpr: number } | false;
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

/** Encode launches in order; a pipeline already set by the launch before is not set again (host calls are the cost of a decode step). */
export function encodeDispatches(pass: GPUComputePassEncoder, ds: readonly Dispatch[]): void {
  let last: GPUComputePipeline | null = null;
  for (const d of ds) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    if (d.pipeline !== last) pass.setPipeline(d.pipeline);
    last = d.pipeline;
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

export function releaseDispatches(ds: readonly Dispatch[]): void {
  for (const d of ds) for (const b of d.owned) b.destroy();
}

/**
 * GPU time of launch sequences: `n` compute passes, each holding one entry of `copies` (cycled),
 * with timestamp writes at the start and end of each pass; the median span in ms. Unlike a
 * throughput figure (many launches in one pass, wall time / count), it leaves out the gap
 * before a pass (barrier, launch latency) and any host work. The device must have been created
 * with 'timestamp-query'.
 */
export async function gpuTimeMs(d: GPUDevice, copies: readonly (readonly Dispatch[])[], n = 64): Promise<number | null> {
  const qs = d.createQuerySet({ type: 'timestamp', count: 2 * n });
  const res = d.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const rd = d.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    for (let round = 0; round < 2; round++) {
      const enc = d.createCommandEncoder();
      for (let i = 0; i < n; i++) {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        encodeDispatches(pass, copies[i % copies.length]!);
        pass.end();
      }
      enc.resolveQuerySet(qs, 0, 2 * n, res, 0);
      enc.copyBufferToBuffer(res, 0, rd, 0, 16 * n);
      d.queue.submit([enc.finish()]);
      await rd.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(rd.getMappedRange().slice(0));
      rd.unmap();
      if (round === 0) continue; // warm-up
      const ms: number[] = [];
      for (let i = 0; i < n; i++) if (t[2 * i + 1]! > t[2 * i]!) ms.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
      return ms.length ? medianOf(ms) : null;
    }
    return null;
  } finally {
    qs.destroy();
    res.destroy();
    rd.destroy();
  }
}

function medianOf(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
