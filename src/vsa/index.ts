/**
 * tritwise/vsa — holographic memory on trit hypervectors (the public API of the vsa/ folder).
 *
 * Hypervectors are TritVectors (two bit planes) of any dimension 64 … 1,000,000. The functional
 * operations follow torchhd: bind, unbind, bundle, permute, similarity, cleanup; on top of them
 * sit item (cleanup) memories, role-filler records, sequences, nested structures, and a
 * key-value store with single-shot, greedy and AMP decoders. A VsaEngine ('js' | 'wasm' | 'auto')
 * runs the same operations on WebAssembly kernels over vectors that live in wasm memory.
 */
export { TritVector } from '../tensor/trit-vector.js';
export { MIN_DIM, MAX_DIM, checkDim, randomHypervector, randomCodebook, symbolVector, hashName, type Hypervector, type RandomOptions } from './hypervector.js';
export { bind, bindInto, unbind, negate, permute, permuteInto, similarity, dot, nnz, setTrit, flipTrit, type Similarity } from './ops.js';
export { VsaEngine, createVsaEngine, defaultVsaEngine, vsaEngineNames, VSA_ENGINES, type VsaEngineName, type VsaEngineOptions } from './engine/engine.js';
export { jsKernels, type VsaKernels, type VsaHost, type AmpSession } from './engine/kernels.js';
export { Accumulator, bundle, bundleSum, type BundleOptions } from './accumulator.js';
export { digitPlanes, fromDigitPlanes, digitsFor } from './digit-planes.js';
export { ItemMemory, type CleanupResult, type ItemMemoryOptions } from './item-memory.js';
export { record, recordSum, field, RecordCodec } from './record.js';
export { sequence, sequenceSum, sequenceItem, bindSequence } from './sequence.js';
export { StructureMemory, type Structure, type PathStep, type QueryResult, type QueryStep } from './structure.js';
export { KeyValueStore, type KeyValueStoreOptions, type GetResult } from './kv-store.js';
export { decode, decodeSingle, decodeGreedy, decodeAmp, DECODERS, type DecoderName, type DecodeOptions, type DecodeResult, type DecodeStats, type SuperpositionProblem, type AmpOptions, type GreedyOptions } from './decode/index.js';
