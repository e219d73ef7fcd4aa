import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Model } from '../../src/nn/model.js';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
it('ppl', async () => {
  const m = await Model.load('../shared/data/stories260K.bin', { tokenizer: '../shared/data/tok512.bin' });
  const text = readFileSync('../shared/data/tinystories_val_subset.txt', 'utf8');
  console.log(await evaluatePerplexity(m, text, { protocol: 'documents', limit: 6, docStart: /^(Once upon a time|One day)/ }));
  let s = ''; for await (const t of m.generate('Once upon a time', { maxTokens: 30 })) s += t.text; console.log(s);
  const g = await Model.load('../shared/data/stories260K.f32.gguf');
  console.log(await evaluatePerplexity(g, text, { protocol: 'documents', limit: 6, docStart: /^(Once upon a time|One day)/ }));
  let t0 = performance.now();
  console.log(await evaluatePerplexity(m, text, { protocol: 'chunks', limit: 2 }), performance.now() - t0);
  const q = await m.quantize({ quantizer: 'twn' });
  console.log(await evaluatePerplexity(q, text, { protocol: 'documents', limit: 6, docStart: /^(Once upon a time|One day)/ }));
  const c = await m.quantize({ quantizer: 'calibrated', calibration: {tokens: 4096} }, { calibrationText: text.slice(20000, 60000) });
  console.log(await evaluatePerplexity(c, text, { protocol: 'documents', limit: 6, docStart: /^(Once upon a time|One day)/ }));
});
