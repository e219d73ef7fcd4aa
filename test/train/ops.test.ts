/**
 * Gradient checks of every training op against central finite differences (f64), on small
 * shapes, including the fused and memory-saving forms (chunked head loss, recomputed attention,
 * recomputed blocks), QAT scales and LoRA adapters.
 */
import { describe, expect, it } from 'vitest';
import { RopeTables } from '../../src/nn/rope.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { FrozenTernary, LoraAdapter, loraForward } from '../../src/train/lora.js';
import { attention } from '../../src/train/ops/attention.js';
import { cosineDistance } from '../../src/train/ops/cosine.js';
import { crossEntropy, headLoss } from '../../src/train/ops/cross-entropy.js';
import { add, embedding, scale, swiglu } from '../../src/train/ops/elementwise.js';
import { linear, linearFrozen } from '../../src/train/ops/linear.js';
import { recompute } from '../../src/train/ops/recompute.js';
import { rmsnorm } from '../../src/train/ops/rmsnorm.js';
import { rope } from '../../src/train/ops/rope.js';
import { QatWeight } from '../../src/train/qat.js';
import { Tape } from '../../src/train/tape.js';
import { Tensor } from '../../src/train/tensor.js';
import { f64, gradCheck, p64 } from '../helpers/gradcheck.js';
import { randomFloats } from '../helpers/arbitraries.js';

const TOL = 1e-6;

function expectClose(r: { maxRelErr: number; checked: number; worst: string }) {
  expect(r.checked).toBeGreaterThan(0);
  expect(r.maxRelErr, r.worst).toBeLessThan(TOL);
}

describe('gradient checks (f64 finite differences)', () => {
  it('linear: x·Wᵀ, gradients of x and W (ragged sizes)', () => {
    for (const [N, K, M] of [[7, 5, 3], [4, 8, 2], [1, 3, 9]] as const) {
      const x = p64(N * K, [N, K], 1, 1, 'x');
      const w = p64(M * K, [M, K], 2, 1, 'w');
      expectClose(gradCheck((t) => linear(t, x, w), [x, w]));
    }
  });

  it('linearFrozen over trit planes equals linear over the dequantized matrix, and its ∂x checks', () => {
    const N = 6, K = 40, M = 5;
    const { tensor } = quantize(randomFloats(M * K, 3), M, K, 'twn', { groupSize: 32 });
    const frozen = new FrozenTernary(tensor, 'base');
    const x = p64(N * K, [N, K], 4, 1, 'x');
    const dense = new Tensor(Float64Array.from(tensor.toDense()), [M, K], false);
    const a = linearFrozen(new Tape(false), x, frozen).data;
    const b = linear(new Tape(false), x, dense).data;
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 12);
    const wd = new Float64Array(M * K);
    frozen.decode(wd);
    expect(Array.from(wd)).toEqual(Array.from(dense.data));
    expectClose(gradCheck((t) => linearFrozen(t, x, frozen), [x]));
  });

  it('embedding (repeated ids scatter-add)', () => {
    const E = p64(10 * 4, [10, 4], 5, 1, 'E');
    expectClose(gradCheck((t) => embedding(t, E, [3, 1, 3, 9, 0, 3]), [E]));
  });

  it('rmsnorm: gradients of x and w', () => {
    const x = p64(5 * 8, [5, 8], 6, 1, 'x');
    const w = p64(8, [8], 7, 1, 'w');
    expectClose(gradCheck((t) => rmsnorm(t, x, w, 1e-5), [x, w]));
  });

  for (const style of ['adjacent', 'halves'] as const) {
    it(`rope (${style}) at several positions, and it is a rotation (norms kept)`, () => {
      const tables = new RopeTables(8, 10000);
      const x = p64(4 * 16, [4, 16], 8, 1, 'x');
      const pos = [0, 3, 17, 250];
      const y = rope(new Tape(false), x, 2, pos, tables, style);
      for (let n = 0; n < 4; n++) {
        let a = 0, b = 0;
        for (let i = 0; i < 16; i++) {
          a += x.data[n * 16 + i]! ** 2;
          b += y.data[n * 16 + i]! ** 2;
        }
        expect(b).toBeCloseTo(a, 5);
      }
      expectClose(gradCheck((t) => rope(t, x, 2, pos, tables, style), [x]));
    });
  }

  for (const recomputeP of [false, true]) {
    it(`attention: causal, GQA (4 query heads over 2 kv heads), 2 sequences${recomputeP ? ', probabilities recomputed' : ''}`, () => {
      const B = 2, T = 5, H = 4, Hkv = 2, d = 4;
      const q = p64(B * T * H * d, [B * T, H * d], 9, 1, 'q');
      const k = p64(B * T * Hkv * d, [B * T, Hkv * d], 10, 1, 'k');
      const v = p64(B * T * Hkv * d, [B * T, Hkv * d], 11, 1, 'v');
      const s = { B, T, nHeads: H, nKvHeads: Hkv, headDim: d };
      expectClose(gradCheck((t) => attention(t, q, k, v, s, { recompute: recomputeP }), [q, k, v]));
    });
  }

  it('attention with a sliding window, and causality (future tokens do not change the past)', () => {
    const B = 1, T = 6, H = 2, Hkv = 1, d = 4;
    const q = p64(T * H * d, [T, H * d], 12, 1, 'q');
    const k = p64(T * Hkv * d, [T, Hkv * d], 13, 1, 'k');
    const v = p64(T * Hkv * d, [T, Hkv * d], 14, 1, 'v');
    const s = { B, T, nHeads: H, nKvHeads: Hkv, headDim: d, window: 3 };
    expectClose(gradCheck((t) => attention(t, q, k, v, s), [q, k, v]));
    const full = { ...s, window: 0 };
    const before = attention(new Tape(false), q, k, v, full).data.slice(0, 3 * H * d);
    k.data[5 * d] += 1;
    v.data[5 * d] += 1;
    const after = attention(new Tape(false), q, k, v, full).data.slice(0, 3 * H * d);
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('swiglu, add and scale', () => {
    const g = p64(12, [3, 4], 15, 2, 'g');
    const u = p64(12, [3, 4], 16, 2, 'u');
    expectClose(gradCheck((t) => add(t, scale(t, swiglu(t, g, u), 0.7), g), [g, u]));
  });

  it('cross-entropy (plain), with an ignored row', () => {
    const z = p64(4 * 7, [4, 7], 17, 3, 'z');
    expectClose(gradCheck((t) => crossEntropy(t, z, [2, -1, 6, 0]).loss, [z]));
  });

  it('fused head + cross-entropy equals linear + cross-entropy, chunked, values and gradients', () => {
    const N = 9, D = 6, V = 11;
    const targets = [1, 4, -1, 10, 0, 3, 3, -1, 7];
    const h = p64(N * D, [N, D], 18, 1, 'h');
    const w = p64(V * D, [V, D], 19, 1, 'w');
    expectClose(gradCheck((t) => headLoss(t, h, w, targets, { chunk: 4 }).loss, [h, w]));
    h.grad = w.grad = null;
    const tape = new Tape();
    const fused = headLoss(tape, h, w, targets, { chunk: 4 });
    tape.backward(fused.loss);
    const gh = h.grad!.slice(), gw = w.grad!.slice();
    h.grad = w.grad = null;
    const t2 = new Tape();
    const plain = crossEntropy(t2, linear(t2, h, w), targets);
    t2.backward(plain.loss);
    expect(fused.loss.data[0]).toBeCloseTo(plain.loss.data[0]!, 12);
    expect(fused.count).toBe(7);
    for (let i = 0; i < gh.length; i++) expect(gh[i]).toBeCloseTo(h.grad![i]!, 12);
    for (let i = 0; i < gw.length; i++) expect(gw[i]).toBeCloseTo(w.grad![i]!, 12);
  });

  it('fused head loss with KL distillation from a teacher (temperature 2)', () => {
    const N = 6, D = 5, V = 9;
    const h = p64(N * D, [N, D], 20, 1, 'h');
    const w = p64(V * D, [V, D], 21, 1, 'w');
    const distill = { hidden: f64(N * D, 22), weight: f64(V * D, 23), alpha: 0.6, temperature: 2 };
    expectClose(gradCheck((t) => headLoss(t, h, w, [1, 2, 3, -1, 5, 8], { chunk: 4, distill }).loss, [h, w]));
    // the KL term vanishes when the student is the teacher
    const same = headLoss(new Tape(false), new Tensor(distill.hidden, [N, D]), new Tensor(distill.weight, [V, D]), [0, 0, 0, 0, 0, 0], { distill });
    expect(same.kl).toBeCloseTo(0, 12);
  });

  it('cosine distance to teacher hidden states', () => {
    const a = p64(4 * 6, [4, 6], 24, 1, 'a');
    expectClose(gradCheck((t) => cosineDistance(t, a, f64(24, 25), 6), [a]));
  });

  it('recompute (activation checkpointing) gives the same gradients as keeping activations', () => {
    const x = p64(4 * 6, [4, 6], 26, 1, 'x');
    const w = p64(6 * 6, [6, 6], 27, 1, 'w');
    const nw = p64(6, [6], 28, 1, 'nw');
    const block = (t: Tape, [xi]: Tensor[]) => add(t, xi!, linear(t, rmsnorm(t, xi!, nw, 1e-5), w));
    expectClose(gradCheck((t) => recompute(t, [x], block), [x, w, nw]));
    const grads = (useRecompute: boolean) => {
      for (const p of [x, w, nw]) p.grad = null;
      const t = new Tape();
      const y = useRecompute ? recompute(t, [x], block) : block(t, [x]);
      t.backward(y, f64(y.size, 29));
      return [x, w, nw].map((p) => Array.from(p.grad!));
    };
    expect(grads(true)).toEqual(grads(false));
  });

  it('QAT: learnable scales have exact gradients; the latent weights get ∂L/∂Q (straight-through)', () => {
    const M = 3, K = 64;
    const w = Float64Array.from(randomFloats(M * K, 30));
    for (const groupSize of [0, 32]) {
      for (const depth of [1, 2]) {
        const q = new QatWeight(w.slice(), M, K, 'w', { quantizer: 'twn', groupSize, depth, scales: 'learnable' });
        const x = p64(2 * K, [2, K], 31, 1, 'x');
        // finite differences in the scales only (the trits depend on the latent weights alone)
        expectClose(gradCheck((t) => linear(t, x, q.forward(t)), [q.scales!, x]));
        // straight-through: ∂L/∂W equals ∂L/∂Q of the same product
        const t = new Tape();
        const Q = q.forward(t);
        const y = linear(t, x, Q);
        q.latent.grad = null;
        t.backward(y, f64(y.size, 32));
        expect(Array.from(q.latent.grad!)).toEqual(Array.from(Q.grad!));
      }
    }
  });

  it('QAT forward is exactly the quantizer: re-estimated twn scales give the quantizer’s trits and scales', () => {
    const M = 4, K = 96;
    const w = randomFloats(M * K, 33);
    const q = new QatWeight(Float32Array.from(w), M, K, 'w', { quantizer: 'twn' });
    const ref = quantize(w, M, K, 'twn').tensor;
    const [got] = q.toTernary();
    expect(got!.toTrits()).toEqual(ref.toTrits());
    expect(Array.from(got!.scales)).toEqual(Array.from(ref.scales));
    expect(Float32Array.from(q.forward(new Tape(false)).data)).toEqual(ref.toDense());
  });

  it('LoRA over a frozen ternary base: starts at the base, gradients of A, B and x', () => {
    const N = 5, K = 40, M = 6;
    const { tensor } = quantize(randomFloats(M * K, 34), M, K, 'twn');
    const base = new FrozenTernary(tensor, 'w');
    const ad = new LoraAdapter(M, K, 'w', { rank: 3, alpha: 6 }, Float64Array);
    const x = p64(N * K, [N, K], 35, 1, 'x');
    const y0 = loraForward(new Tape(false), x, base, ad).data;
    const yb = linearFrozen(new Tape(false), x, base).data;
    expect(Array.from(y0)).toEqual(Array.from(yb));
    ad.b.data.set(f64(ad.b.size, 36));
    expectClose(gradCheck((t) => loraForward(t, x, base, ad), [ad.a, ad.b, x]));
  });
});
