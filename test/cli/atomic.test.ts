// Files the CLI writes (optimize's .deft, .onnx and report, train's model) are whole or absent:
// written to a temporary file beside the target and renamed over it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, writeFileAtomic } from '../../src/cli/common.js';

test('writeFileAtomic replaces a file whole and leaves nothing behind when the write fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-atomic-'));
  const path = join(dir, 'model.deft');
  writeFileSync(path, 'old');
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  assert.deepEqual(readdirSync(dir), ['model.deft'], 'no temporary file left');
  // A target that cannot be written: a CliError naming it, the old file untouched, no temporary file.
  assert.throws(() => writeFileAtomic(join(dir, 'missing', 'x.deft'), 'new'), (e: unknown) => e instanceof CliError && /cannot write '.*missing\/x\.deft'/.test(e.message));
  assert.deepEqual(readdirSync(dir), ['model.deft']);
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  writeFileSync(join(locked, 'model.deft'), 'old');
  chmodSync(locked, 0o500);
  try {
    if (process.getuid?.() === 0) return; // root writes through permissions: the case above covered the failure
    assert.throws(() => writeFileAtomic(join(locked, 'model.deft'), 'new'), (e: unknown) => e instanceof CliError && /cannot write '.*locked\/model\.deft'/.test(e.message));
    assert.equal(readFileSync(join(locked, 'model.deft'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(locked), ['model.deft']);
  } finally {
    chmodSync(locked, 0o700);
  }
});
