import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constantSchedule, cosineSchedule, makeSchedule, stepSchedule } from '../../src/train/schedules.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 + 1e-12 * Math.abs(b), `${what}: ${a} vs ${b}`);

test('constant schedule', () => {
  const s = constantSchedule(0.1);
  for (const step of [0, 1, 1000]) assert.equal(s(step), 0.1);
});

test('step schedule: lr·gamma^floor(step / every)', () => {
  const s = stepSchedule(0.1, 3, 0.5);
  const want = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125];
  want.forEach((lr, step) => close(s(step), lr, `step ${step}`));
  close(s(30), 0.1 / 1024, 'step 30');
  assert.equal(stepSchedule(0.1, 1, 0)(1), 0);
});

test('cosine schedule without warm-up: known points', () => {
  // 0.1·(1 + cos(π·step/8))/2 for 8 steps, then 0.
  const s = cosineSchedule(0.1, 8);
  close(s(0), 0.1, 'start');
  close(s(2), 0.1 * (1 + Math.SQRT1_2) / 2, 'a quarter'); // 0.0853553...
  close(s(2), 0.08535533905932738, 'a quarter, as a number');
  close(s(4), 0.05, 'half way');
  close(s(6), 0.1 * (1 - Math.SQRT1_2) / 2, 'three quarters');
  close(s(8), 0, 'end');
  close(s(100), 0, 'past the end');
  // A floor.
  const f = cosineSchedule(1, 4, 0, 0.2);
  close(f(0), 1, 'floor start');
  close(f(2), 0.6, 'floor half way');
  close(f(4), 0.2, 'floor end');
  close(f(9), 0.2, 'floor past the end');
});

test('cosine schedule with linear warm-up', () => {
  // 4 warm-up steps: 0.025, 0.05, 0.075, 0.1; then cosine over the remaining 6 steps.
  const s = cosineSchedule(0.1, 10, 4);
  [0.025, 0.05, 0.075, 0.1].forEach((lr, step) => close(s(step), lr, `warm-up step ${step}`));
  close(s(5), 0.1 * (1 + Math.cos(Math.PI / 6)) / 2, 'step 5'); // 0.0933012...
  close(s(7), 0.05, 'step 7 (half way through the cosine)');
  close(s(10), 0, 'end');
  // Monotone: up during the warm-up, down after.
  for (let i = 1; i < 4; i++) assert.ok(s(i) > s(i - 1));
  for (let i = 4; i < 10; i++) assert.ok(s(i + 1) < s(i));
});

test('makeSchedule builds each kind from plain data', () => {
  close(makeSchedule({ kind: 'constant' }, 0.3)(7), 0.3, 'constant');
  close(makeSchedule({ kind: 'step', every: 2, gamma: 0.1 }, 1)(5), 0.01, 'step');
  close(makeSchedule({ kind: 'cosine', totalSteps: 10, warmupSteps: 4 }, 0.1)(7), 0.05, 'cosine');
});

test('schedules refuse bad arguments and steps', () => {
  assert.throws(() => constantSchedule(-1), /lr must be a finite number >= 0/);
  assert.throws(() => stepSchedule(0.1, 0, 0.5), /every must be an integer >= 1/);
  assert.throws(() => stepSchedule(0.1, 2, -0.5), /gamma must be a finite number >= 0/);
  assert.throws(() => cosineSchedule(0.1, 4, 4), /totalSteps must be an integer above warmupSteps \(4\)/);
  assert.throws(() => cosineSchedule(0.1, 10, -1), /warmupSteps must be an integer >= 0/);
  assert.throws(() => cosineSchedule(0.1, 10, 0, NaN), /minLr must be a finite number >= 0/);
  assert.throws(() => constantSchedule(0.1)(-1), /step must be an integer >= 0/);
  assert.throws(() => cosineSchedule(0.1, 10)(1.5), /step must be an integer >= 0/);
});
