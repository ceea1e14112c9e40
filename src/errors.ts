// The one base of every error deftnn throws on purpose: a bad model, artifact, image, option or
// device state, with a message that names what is wrong (node, tensor, attribute, file). Anything
// else that escapes the library (a TypeError, a RangeError from a typed array, a protobufjs
// internal) is a bug, and the fuzzer (scripts/fuzz.ts) counts it as one: `instanceof DeftnnError`
// is the contract it checks.

export class DeftnnError extends Error {
  override name = 'DeftnnError';
}

/** Whether `e` is one of deftnn's own errors (any subclass of DeftnnError). */
export function isDeftnnError(e: unknown): e is DeftnnError {
  return e instanceof DeftnnError;
}

/** The caller passed something unusable (a feed, an option, a source): the message names it. */
export class InputError extends DeftnnError {
  override name = 'InputError';
}

/**
 * The most elements one tensor may have: 2^30 (4 GiB of float32), beyond what any WebGPU storage
 * binding holds. Sizes declared by a file (initializer dims, input dims, shapes that shape rules
 * derive from them) are checked against it before anything is allocated, so a file of a few bytes
 * cannot ask for terabytes.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;
