// Buffer planning: every intermediate value gets a slot, and a slot is reused by a later value
// once every value living in it has been read for the last time. Views (Reshape, Flatten, ...)
// share their input's slot. A node's outputs never share a slot with its own inputs.

import { storageBytes, type FloatFormat } from '../formats/format.js';
import { sizeOf } from '../tensor.js';
import { lastUses } from './ir.js';
import type { InferredGraph } from './shapes.js';

export interface BufferPlan {
  /** Slot of every non-initializer value. */
  readonly slotOf: ReadonlyMap<string, number>;
  /** Size of each slot in bytes. */
  readonly slotBytes: readonly number[];
}

/**
 * `keep`: values that must survive to the end of the run like graph outputs (session state).
 * `formats`: values stored packed (src/formats/values.ts), sized as their packed words.
 */
export function planBuffers(
  ig: InferredGraph,
  isView: (nodeIndex: number) => boolean,
  keep: Iterable<string> = [],
  formats: ReadonlyMap<string, FloatFormat> = new Map(),
): BufferPlan {
  const { graph, shapes } = ig;
  const last = lastUses(graph);
  for (const v of keep) last.set(v, graph.nodes.length);
  const slotOf = new Map<string, number>();
  const slotBytes: number[] = [];
  const liveValues = new Map<number, number>(); // slot -> number of live values in it
  const free: number[] = [];

  const bytesOf = (v: string) => storageBytes(formats.get(v), sizeOf(shapes.get(v)!));
  const take = (v: string) => {
    const need = bytesOf(v);
    // Best fit among free slots, growing the largest free slot if none is big enough.
    let best = -1;
    for (const s of free) {
      if (slotBytes[s] >= need && (best < 0 || slotBytes[s] < slotBytes[best])) best = s;
    }
    if (best < 0 && free.length > 0) {
      best = free.reduce((a, b) => (slotBytes[a] >= slotBytes[b] ? a : b));
      slotBytes[best] = need;
    }
    if (best >= 0) free.splice(free.indexOf(best), 1);
    else {
      best = slotBytes.length;
      slotBytes.push(need);
    }
    slotOf.set(v, best);
    liveValues.set(best, 1);
  };
  const drop = (v: string) => {
    const s = slotOf.get(v);
    if (s === undefined) return;
    const n = liveValues.get(s)! - 1;
    liveValues.set(s, n);
    if (n === 0) free.push(s);
  };

  for (const v of graph.inputs) take(v.name);
  for (const v of graph.inputs) if (!last.has(v.name)) drop(v.name);
  graph.nodes.forEach((node, i) => {
    node.outputs.forEach((v, k) => {
      const src = node.inputs[0];
      if (k === 0 && isView(i)) {
        // A view of an initializer needs no slot: the session binds the initializer's buffer.
        const s = slotOf.get(src);
        if (s === undefined) return;
        slotOf.set(v, s);
        liveValues.set(s, liveValues.get(s)! + 1);
      } else take(v);
    });
    const done = new Set([...node.inputs, ...node.outputs].filter((v) => (last.get(v) ?? i) === i));
    done.forEach(drop);
  });
  return { slotOf, slotBytes };
}
