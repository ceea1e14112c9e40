// Guten OCR's output lines (@gutenye/ocr-common, Recognition.ts: afAfRec and
// groupBoxesByMidlineDifference): the lines read on one row joined into one. A line joins the
// first row whose first line's midline is within half the mean box height of its own (heights and
// midlines from the top-left and bottom-right corners); rows are read left to right by their boxes'
// top-left corners and ordered by their leftmost box's top; a row's text is its lines' joined by
// spaces, its score their mean, its box from its first box's left side to its last box's right.
// Lines come in the order Guten OCR visits them: their regions' order on the map (db.ts).

import type { Quad } from '../image/geometry.js';

export interface RowLine {
  readonly text: string;
  readonly score: number;
  readonly box: Quad;
}

/** The rows (see the header); a row keeps its first line's other fields. */
export function joinRows<T extends RowLine>(lines: readonly T[]): T[] {
  if (!lines.length) return [];
  const top = (l: RowLine) => l.box[0][1];
  const bottom = (l: RowLine) => l.box[2][1];
  const mid = (l: RowLine) => (top(l) + bottom(l)) / 2;
  const meanHeight = lines.reduce((s, l) => s + bottom(l) - top(l), 0) / lines.length;
  const rows: T[][] = [];
  for (const l of lines) {
    const row = rows.find((r) => Math.abs(mid(r[0]) - mid(l)) < meanHeight / 2);
    if (row) row.push(l);
    else rows.push([l]);
  }
  for (const r of rows) r.sort((a, b) => a.box[0][0] - b.box[0][0]);
  rows.sort((a, b) => top(a[0]) - top(b[0]));
  return rows.map((r) => ({
    ...r[0],
    text: r.map((l) => l.text).join(' '),
    score: r.reduce((s, l) => s + l.score, 0) / r.length,
    box: [r[0].box[0], r[r.length - 1].box[1], r[r.length - 1].box[2], r[0].box[3]],
  }));
}
