import { describe, expect, it } from 'vitest';
import { dotTernary, dotTernaryRaw } from '../../src/backend/ref/kernels.js';
import { RefBackend } from '../../src/backend/ref/ref-backend.js';
import { backendNames, createBackend } from '../../src/backend/registry.js';
import { dequantizeAccumulators } from '../../src/quant/dequantize.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { backendConformance } from './conformance.js';

backendConformance('ref', async () => new RefBackend());

describe('reference extras', () => {
  it('dotTernary scales the popcount dot; dotTernaryRaw rejects unequal lengths', () => {
    const a = TritVector.fromArray([1, -1, 0, 1, 1], 0.5);
    const b = TritVector.fromArray([1, 1, 1, -1, 1], 3);
    expect(dotTernaryRaw(a, b)).toBe(1 - 1 + 0 - 1 + 1);
    expect(dotTernary(a, b)).toBe(0 * 1.5);
    expect(() => dotTernaryRaw(a, TritVector.fromArray([1]))).toThrow(/equal length/);
  });

  it('dequantizeAccumulators applies token, row and group scales', () => {
    const w = TernaryTensor.fromTrits(new Array(2 * 64).fill(1), 2, 64, { scales: [2, 3], groupSize: 32, groupScales: [1, 10, 100, 1000] });
    const acc = Int32Array.of(1, 2, 3, 4); // [batch 1, rows 2, groups 2]
    expect(Array.from(dequantizeAccumulators(acc, w, [0.5], 1))).toEqual([0.5 * 2 * (1 * 1 + 10 * 2), 0.5 * 3 * (100 * 3 + 1000 * 4)]);
  });

  it('the registry creates backends by name and rejects unknown ones', async () => {
    expect(backendNames()).toContain('ref');
    expect((await createBackend('ref')).name).toBe('ref');
    await expect(createBackend('cuda')).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
