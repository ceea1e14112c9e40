// One graph for every input size, where the model allows it. The importer folds shape arithmetic
// for the input shapes it is given (Shape -> Gather -> Concat -> Reshape becomes a Reshape with a
// fixed target), so a graph imported at batch 1 and width 320 refuses batch 6: PP-OCRv4's
// recogniser reshapes [1, 120, 1, 40] to [1, 120, 40]. Training, calibration and evaluation run
// one graph at several batch sizes, and a .deft artifact is one graph for every size.
//
// generalize() compares the import at the given shapes with an import at other shapes (every
// symbolic dimension doubled): where only Reshape targets differ, each differing entry becomes 0
// (copy the input's dimension at that index) when it equals that dimension in both imports, or
// -1 (whatever is left; one per target). Anything else that differs (another attribute, a
// folded constant, the graph's structure), or a target that needs two -1s, and the graph stays as
// it was imported: fixed to its size, as before. The result is checked: at the other shapes it
// gives the other import's shapes for every value.

import type { Graph, Node } from '../graph/ir.js';
import { inferShapes } from '../graph/shapes.js';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function sameAttrs(a: Node, b: Node, skip?: string): boolean {
  const keys = new Set([...Object.keys(a.attrs), ...Object.keys(b.attrs)]);
  for (const k of keys) if (k !== skip && JSON.stringify(a.attrs[k]) !== JSON.stringify(b.attrs[k])) return false;
  return true;
}

function sameInitializers(a: Graph, b: Graph): boolean {
  if (a.initializers.size !== b.initializers.size) return false;
  for (const [name, t] of a.initializers) {
    const u = b.initializers.get(name);
    if (!u || !sameShape(t.shape, u.shape)) return false;
    if (t.data !== u.data && !t.data.every((v, i) => Object.is(v, u.data[i]))) return false;
  }
  return true;
}

/** `a` (imported at its input shapes) made to run at `b`'s too, or `a` itself where it cannot be; see the header. */
export function generalize(a: Graph, b: Graph): Graph {
  if (a.nodes.length !== b.nodes.length || !sameInitializers(a, b)) return a;
  const sa = inferShapes(a).shapes;
  const sb = inferShapes(b).shapes;
  const nodes: Node[] = [];
  for (let i = 0; i < a.nodes.length; i++) {
    const [n, m] = [a.nodes[i], b.nodes[i]];
    if (n.name !== m.name || n.op !== m.op || n.inputs.join() !== m.inputs.join() || n.outputs.join() !== m.outputs.join()) return a;
    if (sameAttrs(n, m)) {
      nodes.push(n);
      continue;
    }
    if (n.op !== 'Reshape' || !sameAttrs(n, m, 'shape') || n.attrs.allowzero) return a;
    const [ta, tb] = [n.attrs.shape as number[], m.attrs.shape as number[]];
    const [xa, xb] = [sa.get(n.inputs[0])!, sb.get(n.inputs[0])!];
    if (ta.length !== tb.length) return a;
    const target = ta.map((d, k) => (d === tb[k] ? d : d === xa[k] && tb[k] === xb[k] ? 0 : -1));
    if (target.filter((d) => d === -1).length > 1) return a;
    nodes.push({ ...n, attrs: { ...n.attrs, shape: target } });
  }
  const generic: Graph = { ...a, nodes };
  try {
    const at = inferShapes({ ...generic, inputs: b.inputs }).shapes;
    for (const [v, shape] of sb) if (!sameShape(at.get(v) ?? [], shape)) return a;
  } catch {
    return a;
  }
  return generic;
}
