/**
 * pipelines — compiled compute pipelines, cached by shader, variant and override constants.
 * The host prepends a per-device prelude where a shader needs one:
 *   ternary-int, ternary-gemv  tw_dot4(a, b): dot4I8Packed when the WGSL feature exists, else four extractBits
 *   ternary-gemv TPR threads per row and V vec4 loads per thread per pass (variant parts 'tpr32', 'v6')
 *   dense        WT = vec4<f32>, or vec4<f16> with `enable f16` (variant part 'f16')
 *   matmul kernels  T, tokens per workgroup: 1 (variant part 't1', GEMV) or 4
 *   dense, ternary-f32, ternary-int   WG, the threads per workgroup (variant part 'wg64' | 'wg128' | 'wg256';
 *                default 64); a variant is parts joined by '/', e.g. 'f16/wg256'
 * Compilation errors become E_BACKEND errors carrying the WGSL compiler's messages.
 */
/// <reference types="@webgpu/types" />
import { TritwiseError } from '../../errors.js';
import type { GpuDevice } from './gpu.js';
import { shaderSource } from './shader-source.js';

const DOT4_NATIVE = 'fn tw_dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }\n';
const DOT4_PORTABLE = `fn tw_dot4(a: u32, b: u32) -> i32 {
  let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return extractBits(x, 0u, 8u) * extractBits(y, 0u, 8u) + extractBits(x, 8u, 8u) * extractBits(y, 8u, 8u)
       + extractBits(x, 16u, 8u) * extractBits(y, 16u, 8u) + extractBits(x, 24u, 8u) * extractBits(y, 24u, 8u);
}
`;

export interface PipelineKey {
  shader: string;
  variant?: string;
  entry?: string;
  constants?: Record<string, number>;
}

export class Pipelines {
  readonly #cache = new Map<string, Promise<GPUComputePipeline>>();
  readonly #modules = new Map<string, Promise<GPUShaderModule>>();

  constructor(readonly gpu: GpuDevice) {}

  prelude(shader: string, variant?: string): string {
    const parts = (variant ?? '').split('/');
    const t = `const T = ${parts.includes('t1') ? 1 : 4}u;\n`;
    const wg = `const WG = ${matmulWorkgroup(parts)}u;\n` + t;
    if (shader === 'ternary-int') return (this.gpu.dot4 ? DOT4_NATIVE : DOT4_PORTABLE) + wg;
    if (shader === 'ternary-gemv') return (this.gpu.dot4 ? DOT4_NATIVE : DOT4_PORTABLE) + wg + `const TPR = ${variantNumber(parts, 'tpr', 32)}u;\nconst V = ${variantNumber(parts, 'v', 4)}u;\n`;
    if (shader === 'dense') return (parts.includes('f16') ? 'enable f16;\nalias WT = vec4<f16>;\n' : 'alias WT = vec4<f32>;\n') + wg;
    if (shader === 'ternary-f32') return wg;
    return '';
  }

  #module(shader: string, variant?: string): Promise<GPUShaderModule> {
    const key = `${shader}/${variant ?? ''}`;
    let m = this.#modules.get(key);
    if (!m) {
      m = shaderSource(shader).then((src) => this.gpu.device.createShaderModule({ label: key, code: this.prelude(shader, variant) + src }));
      this.#modules.set(key, m);
    }
    return m;
  }

  get(k: PipelineKey): Promise<GPUComputePipeline> {
    const key = JSON.stringify([k.shader, k.variant ?? '', k.entry ?? 'main', k.constants ?? {}]);
    let p = this.#cache.get(key);
    if (!p) {
      p = this.#create(k);
      this.#cache.set(key, p);
      p.catch(() => this.#cache.delete(key));
    }
    return p;
  }

  async #create(k: PipelineKey): Promise<GPUComputePipeline> {
    const module = await this.#module(k.shader, k.variant);
    try {
      return await this.gpu.device.createComputePipelineAsync({ label: `${k.shader}:${k.entry ?? 'main'}`, layout: 'auto', compute: { module, entryPoint: k.entry ?? 'main', constants: k.constants } });
    } catch (e) {
      const info = await module.getCompilationInfo().catch(() => null);
      const msgs = info?.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new TritwiseError('E_BACKEND', 'WGSL pipeline creation failed', { where: `${k.shader}.wgsl${k.variant ? ` (${k.variant})` : ''}`, got: msgs || (e as Error).message, cause: e });
    }
  }
}

/** Threads per workgroup of the dense / ternary-f32 matmul kernels: a power of two in 32..256. */
export const MATMUL_WORKGROUPS = [32, 64, 128, 256] as const;

function matmulWorkgroup(parts: string[]): number {
  const v = parts.find((p) => p.startsWith('wg'));
  if (!v) return 64;
  const n = Number(v.slice(2));
  if (!(MATMUL_WORKGROUPS as readonly number[]).includes(n)) throw new TritwiseError('E_ARG', 'unsupported matmul workgroup size', { where: `pipeline variant '${parts.join('/')}'`, expected: MATMUL_WORKGROUPS.join(', '), got: v.slice(2) });
  return n;
}

/** A numeric variant part such as 'tpr32' → 32 (the part is the prefix followed by digits only). */
function variantNumber(parts: string[], prefix: string, dflt: number): number {
  const v = parts.find((p) => p.startsWith(prefix) && /^\d+$/.test(p.slice(prefix.length)));
  return v ? Number(v.slice(prefix.length)) : dflt;
}

/** Pack a uniform block: u32 fields as given, f32 fields as { f: value }; padded to 16 bytes. */
export function packParams(fields: (number | { f: number })[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  fields.forEach((v, i) => {
    if (typeof v === 'number') dv.setUint32(i * 4, v >>> 0, true);
    else dv.setFloat32(i * 4, v.f, true);
  });
  return buf;
}
