// Shape-generic kernels. Every kernel generator in deftnn writes the sizes it was built for into
// its WGSL as literals (kernels/wgsl.ts): simple generators, and a compiler that sees every bound.
// But then each new input size is new WGSL text and a new pipeline compile. This module separates
// a generated kernel into its *skeleton*, the text with the literals in chosen positions replaced
// by reads of a uniform buffer, and the *values* of those literals. Kernels that differ only in
// sizes share one skeleton, hence one compiled pipeline; a new size only uploads a new uniform.
//
// Which literals are lifted is learnt per kernel (SizeLifts): those whose values change with the
// input size. Lifting every literal would make one pipeline of all kernels of one structure, but
// it costs 30-70% of warm latency on lavapipe (runtime divisions by kernel widths, loop bounds
// unknown to the compiler: docs/benchmarks.md, "Shape-generic kernels"). Literals in
// positions WGSL requires to be constant are never lifted: `@workgroup_size`, array lengths in
// types, `const` and `override` declarations. Only typed literals are candidates (`12u`, `3i`,
// `0.5f`: what the generators' u32/i32/f32 helpers write); untyped ones (`0.0`, `1`) are part of
// the kernel's structure.

/** A typed literal's WGSL type. */
export type LiteralType = 'u32' | 'i32' | 'f32';

/** A candidate literal of a kernel: where it is in the text, its type and its value. */
export interface Literal {
  readonly at: number;
  readonly text: string;
  readonly type: LiteralType;
  readonly value: number;
}

export interface LiftedKernel {
  /** The WGSL with lifted literals read from `var<uniform> sizes` at binding `binding` of group 0. */
  readonly wgsl: string;
  /** The lifted literals' bits in uniform order, padded to whole vec4s (empty: nothing lifted). */
  readonly values: Uint32Array;
  /** The binding the uniform takes (one past the kernel's own); meaningful when values is non-empty. */
  readonly binding: number;
}

// A typed numeric literal: f32 (decimal with a dot or exponent, suffix f), or an integer with
// suffix u or i, with its sign when the sign is unary (the i32/f32 helpers write `(-3i)` and
// `-0.5f`; in `x-1u` and `x - 1u` the minus is an operator), so that a value which is negative
// at one size and positive at another is one literal. Hex literals are bit masks, part of the
// structure, and not matched. The lookbehind keeps identifiers such as `c1u` and members out.
const LITERAL = /(?<![\w.)\]])(-?)(?:(\d+\.\d*(?:e[+-]?\d+)?|\d+e[+-]?\d+|\.\d+(?:e[+-]?\d+)?)f|(\d+)([ui]))(?![\w.])/g;

// Spans of text where literals must stay constant expressions.
const FIXED_SPANS = [
  /@workgroup_size\([^)]*\)/g,
  /\barray<[^;{}()]*?>/g, // array<T, N> (nested generics match up to the first '>', enough for N)
  /\b(?:const|override)\s[^;]*;/g,
];

/**
 * A generated kernel taken apart: its text without comments (which name sizes too), its
 * candidate literals in text order, and its structure, the text with every candidate blanked:
 * kernels that differ only in those literals have equal structures.
 */
export interface ParsedKernel {
  readonly code: string;
  readonly literals: readonly Literal[];
  readonly structure: string;
}

export function parseKernel(wgsl: string): ParsedKernel {
  const code = wgsl.replace(/\/\/[^\n]*/g, '');
  const fixed: [number, number][] = [];
  for (const re of FIXED_SPANS) for (const m of code.matchAll(re)) fixed.push([m.index!, m.index! + m[0].length]);
  const literals: Literal[] = [];
  let structure = '';
  let from = 0;
  for (const m of code.matchAll(LITERAL)) {
    let at = m.index!;
    let [text, sign, float, int, suffix] = m;
    const type: LiteralType = float !== undefined ? 'f32' : suffix === 'u' ? 'u32' : 'i32';
    if (sign && type === 'u32') [at, text, sign] = [at + 1, text.slice(1), ''];
    if (fixed.some(([a, b]) => at >= a && at < b)) continue;
    const value = Number(sign + (float ?? int));
    if (type !== 'f32' && !Number.isSafeInteger(value)) continue;
    literals.push({ at, text, type, value });
    structure += code.slice(from, at) + '#' + type;
    from = at + text.length;
  }
  return { code, literals, structure: structure + code.slice(from) };
}

/** Split a kernel into a skeleton and the values of the literals whose index `lift` accepts. */
export function liftLiterals(kernel: ParsedKernel, lift: (index: number) => boolean): LiftedKernel {
  const { code: wgsl, literals } = kernel;
  const bits: number[] = [];
  let body = '';
  let from = 0;
  literals.forEach((l, i) => {
    if (!lift(i)) return;
    const k = bits.length;
    bits.push(wordOf(l.value, l.type));
    const read = `sizes[${k >> 2}].${'xyzw'[k & 3]}`;
    body += wgsl.slice(from, l.at) + (l.type === 'u32' ? read : `bitcast<${l.type}>(${read})`);
    from = l.at + l.text.length;
  });
  if (bits.length === 0) return { wgsl, values: new Uint32Array(0), binding: -1 };
  body += wgsl.slice(from);
  const binding = nextBinding(wgsl);
  const vec4s = Math.ceil(bits.length / 4);
  const values = new Uint32Array(vec4s * 4);
  values.set(bits);
  return { wgsl: `@group(0) @binding(${binding}) var<uniform> sizes: array<vec4<u32>, ${vec4s}>;\n${body}`, values, binding };
}

/**
 * Which literals of each kernel vary with the input size, learnt by comparing the kernels one node
 * generates at different sizes. A kernel is known by a key (its node and dispatch) and its
 * structure (a size may change the shape of the code: vec4 stores where a width divides by 4, a
 * tile chosen for a small matrix); a literal is lifted once two sizes gave it different values.
 * The rest stay in the text, so channel counts, kernel windows and tile sizes remain compile-time
 * constants, and a kernel runs as fast as one built for its size alone.
 */
export class SizeLifts {
  private readonly kernels = new Map<string, { values: number[]; varying: Set<number> }>();

  /**
   * Record kernel `key` as generated at one more size; returns its id (key and structure): a
   * probe whose kernels include an id taught that kernel what varies with the probe's change.
   */
  learn(key: string, wgsl: string): string {
    const { literals, structure } = parseKernel(wgsl);
    const id = `${key}\n${structure}`;
    const known = this.kernels.get(id);
    if (!known) {
      this.kernels.set(id, { values: literals.map((l) => l.value), varying: new Set() });
      return id;
    }
    literals.forEach((l, i) => {
      if (!Object.is(l.value, known.values[i])) known.varying.add(i);
    });
    return id;
  }

  /** Kernel `key` with the literals learnt to vary lifted into its uniform (as it is when none). */
  lift(key: string, wgsl: string): LiftedKernel {
    const kernel = parseKernel(wgsl);
    const known = this.kernels.get(`${key}\n${kernel.structure}`);
    if (!known || known.varying.size === 0) return { wgsl, values: new Uint32Array(0), binding: -1 };
    return liftLiterals(kernel, (i) => known.varying.has(i));
  }

  /** Kernel variants known, and how many of them lift at least one literal. */
  get stats(): { kernels: number; lifted: number } {
    let lifted = 0;
    for (const k of this.kernels.values()) if (k.varying.size) lifted++;
    return { kernels: this.kernels.size, lifted };
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function wordOf(value: number, type: LiteralType): number {
  if (type === 'u32') return value >>> 0;
  if (type === 'i32') return value | 0;
  F32[0] = value;
  return U32[0];
}

function nextBinding(wgsl: string): number {
  let max = -1;
  for (const m of wgsl.matchAll(/@group\(0\)\s*@binding\((\d+)\)/g)) max = Math.max(max, Number(m[1]));
  return max + 1;
}
