/**
 * decode — the key-value superposition decoders, by name.
 *
 *   single     one unbind + cleanup per key (SNR ≈ √(D/N))
 *   greedy     explaining away with hard decisions (successive interference cancellation)
 *   amp        approximate message passing with an Onsager correction, on shortlists,
 *              with exact peeling rounds (the joint decoder; goes furthest)
 *   iterative  = amp
 */
import { TritwiseError } from '../../errors.js';
import { decodeAmp, type AmpOptions } from './amp.js';
import { decodeGreedy, type GreedyOptions } from './greedy.js';
import type { DecodeResult, SuperpositionProblem } from './problem.js';
import { decodeSingle } from './single.js';

export const DECODERS = ['single', 'greedy', 'amp', 'iterative'] as const;
export type DecoderName = (typeof DECODERS)[number];

export type DecodeOptions = AmpOptions & GreedyOptions;

export function checkDecoder(name: string, where: string): DecoderName {
  if (!(DECODERS as readonly string[]).includes(name)) throw new TritwiseError('E_ARG', 'unknown decoder', { where, expected: DECODERS.join(' | '), got: name });
  return name as DecoderName;
}

/** Decode every key of a superposition with the named decoder. */
export async function decode(p: SuperpositionProblem, decoder: DecoderName = 'single', opts: DecodeOptions = {}): Promise<DecodeResult> {
  switch (checkDecoder(decoder, 'decode')) {
    case 'single':
      return decodeSingle(p);
    case 'greedy':
      return decodeGreedy(p, opts);
    default:
      return decodeAmp(p, opts);
  }
}

export type { DecodeResult, DecodeStats, SuperpositionProblem } from './problem.js';
export { decodeAmp, type AmpOptions } from './amp.js';
export { decodeGreedy, type GreedyOptions } from './greedy.js';
export { decodeSingle } from './single.js';
