/**
 * stories260K acceptance: the real llama2.c checkpoint through every loader gives the reference
 * greedy ids, encoding and perplexity of ../shared/data/README.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { HfTokenizer } from '../../src/io/tokenizers/hf-tokenizer.js';
import { Model } from '../../src/nn/model.js';
import { greedyIds } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';

const REF_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];
const SIX = { protocol: 'documents' as const, limit: 6, ctx: 512, docStart: /^(Once upon a time|One day)/ };
const dir = mkdtempSync(join(tmpdir(), 'tritwise-260k-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function files() {
  const ckpt = sharedFile('stories260K.bin');
  const tok = sharedFile('tok512.bin');
  const text = sharedFile('tinystories_val_subset.txt');
  return ckpt && tok && text ? { ckpt, tok, text: readFileSync(text, 'utf8') } : null;
}

describe('stories260K (llama2.c checkpoint + tok512.bin)', () => {
  it('greedy ids from BOS, encode("Once upon a time"), decoded text, and the 6-story perplexity', async (t) => {
    const f = files();
    if (!f) return t.skip();
    const m = await Model.load(f.ckpt, { tokenizer: f.tok });
    expect(m.config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true, ropeStyle: 'adjacent' });
    expect(await greedyIds(m, 20)).toEqual(REF_IDS);
    expect(m.tokenizer!.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(m.tokenizer!.decode([1, ...REF_IDS])).toBe("Once upon a time, there was a little girl named Lily. She loved to play");
    let streamed = '';
    for await (const tok of m.generate('Once upon a time', { maxTokens: 16 })) streamed += tok.text;
    expect('Once upon a time' + streamed).toBe(m.tokenizer!.decode([1, 403, 407, 261, 378, ...REF_IDS.slice(4, 20)]));
    const r = await evaluatePerplexity(m, f.text, SIX);
    expect(r.tokens_scored).toBe(1343);
    expect(r.mean_nll).toBeCloseTo(1.20513, 4);
    expect(Math.abs(r.perplexity - 3.3372)).toBeLessThanOrEqual(0.0005);
  });

  it('the same checkpoint saved HF-style (Q/K permuted to rotate-half) loads through safetensors with the same greedy ids; sharded too', async (t) => {
    const f = files();
    if (!f) return t.skip();
    const m = await Model.load(f.ckpt, { tokenizer: f.tok });
    const hf = join(dir, 'hf');
    m.saveHf(hf);
    const h = await Model.load(hf);
    expect(h.config.ropeStyle).toBe('halves');
    expect(h.tokenizer).toBeInstanceOf(HfTokenizer);
    expect(await greedyIds(h, 20)).toEqual(REF_IDS);
    // the exported tokenizer.json, run by @huggingface/tokenizers, encodes like run.c
    expect(h.tokenizer!.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    const story = f.text.slice(f.text.indexOf('Once upon a time'), f.text.indexOf('Once upon a time') + 600);
    expect(h.tokenizer!.encode(story)).toEqual(m.tokenizer!.encode(story));
    // Q rows really are permuted: layer 0 wq differs from the llama2.c order but is a row permutation of it
    const st = SafetensorsFile.open(join(hf, 'model.safetensors'));
    const wq = st.readF32('model.layers.0.self_attn.q_proj.weight').data;
    st.close();
    expect(Array.from(wq.subarray(64, 128))).not.toEqual(Array.from((m.weights.get('layers.0.attention.wq') as { data: Float32Array }).data.subarray(64, 128)));
    // sharded: split into two files with an index
    const sh = join(dir, 'sharded');
    const src = SafetensorsFile.open(join(hf, 'model.safetensors'));
    const names = src.names();
    const half = Math.ceil(names.length / 2);
    const map: Record<string, string> = {};
    for (const [i, part] of [names.slice(0, half), names.slice(half)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, 'tmp-' + file), part.map((n) => ({ name: n, dtype: 'F32' as const, shape: src.info(n).shape, data: src.readF32(n).data })));
      for (const n of part) map[n] = file;
    }
    src.close();
    const { mkdirSync, renameSync, copyFileSync } = await import('node:fs');
    mkdirSync(sh);
    for (const file of new Set(Object.values(map))) renameSync(join(dir, 'tmp-' + file), join(sh, file));
    for (const fname of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(hf, fname), join(sh, fname));
    writeFileSync(join(sh, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
    expect(await greedyIds(await Model.load(sh), 20)).toEqual(REF_IDS);
  });

  it('the independently written stories260K.f32.gguf gives the reference greedy ids and perplexity', async (t) => {
    const f = files();
    const gguf = sharedFile('stories260K.f32.gguf');
    if (!f || !gguf) return t.skip();
    const g = await Model.load(gguf);
    expect(await greedyIds(g, 24)).toEqual([403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292]);
    expect(g.tokenizer!.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    const r = await evaluatePerplexity(g, f.text, SIX);
    expect(r.tokens_scored).toBe(1343);
    expect(Math.abs(r.perplexity - 3.3372)).toBeLessThanOrEqual(0.0005);
  });
});
