/**
 * kernels — the AssemblyScript entry point of tritwise's WebAssembly module.
 *
 * Built twice by scripts/build-kernels.mjs: `simd.wasm` (SIMD128) and `relaxed.wasm` (SIMD128 +
 * relaxed SIMD); the host picks one with WebAssembly.validate. The module imports a shared memory
 * (env.memory) and allocates nothing: every pointer is a byte offset chosen by the host
 * (src/backend/wasm/heap.ts), so one module instance per thread can share the same memory.
 * Kernels that the worker pool splits take the row range [r0, r1) as their last two arguments.
 */
export { denseF32 } from './dense-f32';
export { ternaryI8, actI16, dequantAcc } from './ternary-i8';
export { ternaryF32, initF32Table } from './ternary-f32';
export { ternaryTernary } from './ternary-ternary';
export { sparseI8, sparseF32, sparseI8W, sparseF32W, csrPadF32, csrPadI8, csrGroupI8, csrPadI32, widenI8 } from './sparse';
export { blockSparseI8, blockSparseF32 } from './sparse-blocks';
export { ternarySigns, blockNnz, planesToSigns } from './ternary-signs';
export { vsaBind, vsaSimilarity, vsaNnz, vsaPermute } from './vsa-ops';
export { vsaAccAdd, vsaThreshold, vsaAccDot, vsaAccUnbind, vsaDigitPlanes } from './vsa-acc';
export { initSignTable, initSignTable8, vsaPairDots, vsaPairAxpy } from './vsa-amp';
export { attentionF32 } from './attention';
export { multiF32, multiI8, interleaveCodes, padGroups8, blockSumsI8 } from './multi';
export { flashF32, scoresF32 } from './attention-flash';
export { quantTrits, ternaryScores, ternaryAttn, topkAttn } from './attention-ternary';
export { planesToLut, lutTables, lutI8, setThreadIndex } from './lut-i8';
export { lut3Triples, planesToLut3, lut3Tables, lut3TableBytes, lut3I8 } from './lut3-i8';
export { stageI8, stagedI8Bytes, quantI8Token, quantQ8K, permuteF32, planesToBlocks, planesToI8, planesToCodes } from './prep';
export { gemmF32 } from './gemm-f32';
export { attnForward, attnBackward } from './attention-f32';
export { rmsnormF32, addF32, swigluF32 } from './block-ops';

/** 1 when this build uses relaxed SIMD. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** Traps (`unreachable`) when `row` is in [r0, r1): the worker pool's tests use it to check that
 * an error inside one worker reaches the caller. */
export function trapAt(row: i32, r0: i32, r1: i32): void {
  if (row >= r0 && row < r1) unreachable();
}
