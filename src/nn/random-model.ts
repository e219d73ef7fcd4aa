/**
 * random-model — a Llama-shaped model with seeded random weights (linear weights and the
 * embedding ~ N(0, 0.02²), norms = 1), for demos and benchmarks that need no data files.
 */
import { seededRandom } from '../eval/random.js';
import type { StoredTensor } from '../io/weights-file.js';
import { expectedShapes, type LlamaConfig } from './llama-config.js';

export function randomWeights(config: LlamaConfig, seed = 1, std = 0.02): Map<string, StoredTensor> {
  const rng = seededRandom(seed);
  const weights = new Map<string, StoredTensor>();
  for (const [name, shape] of expectedShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    weights.set(name, { shape, data });
  }
  return weights;
}
