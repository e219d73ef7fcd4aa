/**
 * llamacpp-comparison — llama.cpp's native TQ2_0 matmul (ggml-tq2.ts) as a kernel-bench
 * Comparison named `llamacpp-tq2_0`: the same trits (the dequantized ternary weights quantize to
 * TQ2_0 exactly, one scale per 256-weight block), the same f32 activations (ggml turns them into
 * Q8_K itself), the same thread count.
 */
import { GgmlTq2, TQ2_0_BLOCK, TQ2_0_BYTES } from './ggml-tq2.js';
import type { Comparison } from './kernel-bench.js';

export const LLAMACPP_TQ2_0 = 'llamacpp-tq2_0';

export async function llamaCppComparison(): Promise<{ comparison: Comparison; variant: string }> {
  const variant = await GgmlTq2.variant();
  return {
    variant,
    comparison: {
      name: LLAMACPP_TQ2_0,
      async prepare({ dense, rows, cols, threads }) {
        if (cols % TQ2_0_BLOCK !== 0) return null;
        const m = await GgmlTq2.open(dense, rows, cols, threads);
        return { bytes: (rows * cols * TQ2_0_BYTES) / TQ2_0_BLOCK, run: (x, batch, out) => m.matmul(x, batch, out), idle: () => m.pause(), dispose: () => m.dispose() };
      },
    },
  };
}
