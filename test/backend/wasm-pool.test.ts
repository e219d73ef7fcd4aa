/**
 * The wasm worker pool: errors inside a worker reach the caller as E_WORKER, a worker that dies
 * (inside a job or while idle) neither deadlocks nor breaks the pool, the thread count is
 * settable, and a process that uses the backend exits on its own — with or without dispose().
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { TritwiseError } from '../../src/errors.js';
import { quantizeInt8PerToken } from '../../src/quant/activation-quantizers.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { naiveIntAcc } from './conformance.js';

const rows = 64,
  cols = 96;
const t = quantize(randomFloats(rows * cols, 4), rows, cols, 'twn').tensor;
const q = quantizeInt8PerToken(randomFloats(2 * cols, 5), 2, cols).q;
const want = Array.from(naiveIntAcc(t, q, 2));

describe('wasm worker pool', () => {
  let be: WasmBackend;
  beforeAll(async () => {
    be = await WasmBackend.create({ threads: 3, parallelMinWork: 0 });
  });
  afterAll(async () => {
    await be?.dispose();
  });

  async function stillWorks(): Promise<void> {
    const h = await be.uploadTernary(t);
    expect(Array.from(await be.matmulI8(h, q, 2))).toEqual(want);
    be.release(h);
  }

  it('has the requested thread count (workers = threads − 1)', () => {
    expect(be.describe().threads).toBe(3);
    expect(be.pool.workers).toBe(2);
    expect(be.pool.alive).toBe(2);
  });

  it('a trap inside a worker reaches the caller as E_WORKER, and the pool keeps working', async () => {
    // all chunks on the workers, so the trap happens in one of them
    be.pool.hostParticipates = false;
    try {
      const err = await be.pool.run('trapAt', [25], 30, true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TritwiseError);
      expect(err).toMatchObject({ code: 'E_WORKER', where: expect.stringMatching(/^wasm worker [01] \(trapAt\)$/) });
      expect(String((err as Error).message)).toMatch(/unreachable/);
      // the workers alone compute correct results too
      await stillWorks();
    } finally {
      be.pool.hostParticipates = true;
    }
    // a trap wherever it lands (worker or calling thread) is E_WORKER; without the pool E_BACKEND
    await expect(be.pool.run('trapAt', [3], 30, true)).rejects.toMatchObject({ code: 'E_WORKER', message: expect.stringMatching(/unreachable/) });
    await expect(be.pool.run('trapAt', [3], 30, false)).rejects.toMatchObject({ code: 'E_BACKEND', message: expect.stringMatching(/unreachable/) });
    await stillWorks();
  });

  it('a worker that dies inside a job rejects that job with E_WORKER and is replaced', async () => {
    const err = await be.pool.debugDieInJob(0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_WORKER' });
    expect(String((err as Error).message)).toMatch(/died/);
    expect(be.pool.alive).toBe(1);
    await stillWorks();
    expect(be.pool.alive).toBe(2);
  });

  it('a worker terminated while idle is replaced by the next call', async () => {
    await be.pool.debugTerminate(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(be.pool.alive).toBe(1);
    await stillWorks();
    expect(be.pool.alive).toBe(2);
  });

  it('hundreds of back-to-back jobs of varied sizes stay exact (late workers never mix jobs)', async () => {
    const shapes = [1, 2, 3, 7, 31, 64, 129];
    const handles = await Promise.all(shapes.map((r, i) => be.uploadTernary(quantize(randomFloats(r * cols, 50 + i), r, cols, 'twn').tensor)));
    const wants = handles.map((h) => Array.from(naiveIntAcc(h.tensor, q, 2)));
    for (let i = 0; i < 300; i++) {
      const j = (i * 5) % shapes.length;
      expect(Array.from(await be.matmulI8(handles[j]!, q, 2)), `job ${i} rows ${shapes[j]}`).toEqual(wants[j]);
    }
    for (const h of handles) be.release(h);
  });

  it('concurrent calls are serialized and each gets its own correct result', async () => {
    const h = await be.uploadTernary(t);
    const qs = [0, 1, 2, 3].map((s) => quantizeInt8PerToken(randomFloats(2 * cols, 100 + s), 2, cols).q);
    const got = await Promise.all(qs.map((x) => be.matmulI8(h, x, 2)));
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(naiveIntAcc(t, qs[i]!, 2))));
    be.release(h);
  });
});

describe('wasm backend process lifetime', () => {
  const script = fileURLToPath(new URL('../fixtures/wasm-exit.mjs', import.meta.url));
  for (const mode of ['dispose', 'no-dispose']) {
    it(`a process using 2 threads exits by itself (${mode})`, () => {
      const r = spawnSync(process.execPath, [script, mode], { encoding: 'utf8', timeout: 30_000 });
      expect(r.error, 'the process must not hang').toBeUndefined();
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(`ok ${mode} threads=2`);
    });
  }

  it('threads can be set through createBackend and default to the core count', async () => {
    const b = await createBackend('wasm', { threads: 2 });
    expect(b.describe().threads).toBe(2);
    await b.dispose();
  });
});
