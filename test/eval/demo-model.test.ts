/**
 * The bundled demo model (models/brown-ternary, trained by scripts/train-demo-model.mjs): it loads
 * from the package with no outside files, has the documented shape and is all ternary, stays
 * under 1 MB on disk, samples deterministically for a seed, and scores far below the uniform and
 * unigram baselines on the held-out Brown text shipped beside it. Also the pieces it was made
 * with: the Brown tag stripper and the BPE trainer (round trip).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import { brownSplit, readBrownCorpus, untagFile, untagSentence } from '../../src/eval/brown.js';
import { defaultDemoModel, runTrainedDemo, unigramPerplexity } from '../../src/eval/demo-model.js';
import { Model } from '../../src/nn/model.js';
import { trainBpe } from '../../src/train/bpe.js';

const backend = await createBackend('ref');
afterAll(() => backend.dispose());
const dir = defaultDemoModel();

describe('bundled demo model', () => {
  it('loads from the package: documented shape, every linear layer ternary, ≤ 1 MB on disk', async () => {
    const m = await Model.load(dir, { backend });
    try {
      expect(m.config).toMatchObject({ nLayers: 4, dim: 128, hiddenDim: 352, nHeads: 4, vocabSize: 512 });
      const linears = [...m.weights].filter(([n]) => /^layers\.\d+\./.test(n) && !/norm/.test(n));
      expect(linears.length).toBe(4 * 7);
      for (const [n, t] of linears) expect('plus' in t, n).toBe(true);
      expect(m.tokenizer?.vocabSize).toBe(512);
    } finally {
      await m.dispose();
    }
    const files = readdirSync(dir).filter((f) => f !== 'heldout.txt' && f !== 'TRAINING.json');
    const bytes = files.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(1 << 20);
  });

  it('samples deterministically for a seed and scores far below uniform and unigram on held-out text', async () => {
    const a = await runTrainedDemo({ backend, seed: 7, tokens: 24, chunks: 16 });
    const b = await runTrainedDemo({ backend, seed: 7, tokens: 24, chunks: 1 });
    expect(b.sample).toBe(a.sample);
    expect(a.sample.startsWith(a.prompt)).toBe(true);
    expect(a.sample.length).toBeGreaterThan(a.prompt.length + 24);
    // mostly English letters and spaces, not byte soup
    expect(a.sample.replace(/[A-Za-z ,.'"]/g, '').length).toBeLessThan(a.sample.length / 5);
    const ppl = a.perplexity!.perplexity;
    expect(a.uniform_perplexity).toBe(512);
    expect(ppl).toBeLessThan(a.uniform_perplexity / 4);
    expect(ppl).toBeLessThan(a.unigram_perplexity!);
  });
});

describe('demo model ingredients', () => {
  it('strips Brown POS tags and undoes the tokenization', () => {
    expect(untagSentence("The/at jury/nn said/vbd ``/`` it/pps 's/bez fine/jj ''/'' ,/, (/( too/ql )/) ./.")).toBe('The jury said "it\'s fine", (too).');
    expect(untagFile('\n\tA/at b/nn ./.\n\tC/np d/vb ./.\n\n\n\tE/np ./.\n')).toBe('A b. C d.\n\nE.');
    const texts = readBrownCorpus();
    expect(texts.length).toBe(500);
    expect(texts[0]!.text).not.toMatch(/\/[a-z]/);
    const { train, heldOut } = brownSplit(texts);
    expect([train.length, heldOut.length]).toEqual([475, 25]);
  });

  it('BPE: learns frequent words as single pieces and round-trips any text, bundled tokenizer too', async () => {
    const tok = trainBpe('the cat sat on the mat and the cat ran. '.repeat(50), { size: 300 });
    expect(tok.encode('the cat', { bos: false }).length).toBe(2);
    const odd = 'Zoë — naïve "x"\n\ttabs 123';
    expect(tok.decode(tok.encode(odd, { bos: false }))).toBe(odd);
    const m = await Model.load(dir, { backend });
    try {
      const held = readFileSync(join(dir, 'heldout.txt'), 'utf8').slice(0, 5000);
      const ids = m.tokenizer!.encode(held, { bos: false });
      expect(m.tokenizer!.decode(ids)).toBe(held);
      expect(held.length / ids.length).toBeGreaterThan(1.5); // real merges (bytes alone: 1.0)
      expect(unigramPerplexity([1, 1, 2, 2])).toBeCloseTo(2, 12);
    } finally {
      await m.dispose();
    }
  });
});
