/**
 * tritwise — ternary neural-network weights in TypeScript. The public API.
 */
export { TritwiseError, type ErrorCode } from './errors.js';
export { TernaryTensor, type Trit, type TernaryStats, type TernaryParts } from './tensor/ternary-tensor.js';
export { TritVector } from './tensor/trit-vector.js';
export { popcount32, wordsFor, dotPlanes } from './tensor/bits.js';
export { type DenseTensor, denseTensor, numel } from './tensor/dense-tensor.js';
export { encodeCodes2, decodeCodes2, encodeBase3, decodeBase3, type PackedTrits } from './tensor/codecs.js';
export { getFormat, listFormats, registerFormat, addKernel, type FormatDescriptor } from './tensor/formats.js';
export { quantize, quantStats, parseQuantizer, quantizerLabel, type QuantizerSpec, type QuantizerName, type QuantizeOptions, type QuantizeResult, type QuantStats } from './quant/weight-quantizers.js';
export { quantizeInt8PerToken, quantizeTernaryPerToken, type Int8Activations } from './quant/activation-quantizers.js';
export { dequantizeAccumulators } from './quant/dequantize.js';
export type { Backend, ActivationMode, TernaryWeights, DenseWeights } from './backend/backend.js';
export { createBackend, registerBackend, backendNames, type BackendOptions } from './backend/registry.js';
export { RefBackend } from './backend/ref/ref-backend.js';
export { gemmTernaryF32, gemmTernaryI8, gemmTernaryTernary, gemmDense, dotTernary, dotTernaryRaw } from './backend/ref/kernels.js';
export { TernaryLinear, DenseLinear, type Linear, type TernaryLinearOptions } from './nn/linear.js';
export { SafetensorsFile, writeSafetensors, encodeSafetensors, type TensorInfo, type TensorToWrite } from './io/safetensors.js';
export { saveWeights, loadWeights, readWeights, encodeWeights, type StoredTensor, type WeightsFile } from './io/weights-file.js';
export { inspectFile, type FileSummary, type TensorSummary } from './io/inspect.js';
export { f16ToF32, f32ToF16 } from './io/half.js';
export { measure, machineInfo, median } from './eval/benchmark.js';
export { seededRandom, type Rng } from './eval/random.js';
export { WasmBackend, SPARSE_DENSITY, type WasmBackendOptions } from './backend/wasm/wasm-backend.js';
export type { Platform, PoolWorker } from './backend/wasm/platform.js';
export * as vsa from './vsa/index.js';
