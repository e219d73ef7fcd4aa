/**
 * storage-choice — how `Model.save` / `tritwise quantize --storage` store each ternary layer:
 * 'auto' stores a layer as CSR or block-sparse when the automatic layout choice (cost-model.ts,
 * for the layer's activation mode) runs it that way, else as bit planes; or one format for all.
 */
import type { ActivationMode } from '../backend/backend.js';
import type { StorageFormat } from '../io/weights-file.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { sparsityStats } from './chunk-map.js';
import { chooseLayout } from './cost-model.js';

export function storageChooser(mode: 'auto' | 'csr' | 'block-sparse', activations: Map<string, ActivationMode>): (name: string, t: TernaryTensor) => StorageFormat {
  if (mode !== 'auto') return () => mode;
  return (name, t) => {
    const l = chooseLayout(sparsityStats(t), activations.get(name) === 'f32' || !activations.has(name) ? 'f32' : 'i8').layout;
    return l === 'csr' || l === 'block-sparse' ? l : 'planes';
  };
}
