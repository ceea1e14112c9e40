// Learning-rate schedules: pure functions from the 0-based step index (the number of optimiser
// steps already taken) to the learning rate of that step. The training loop feeds the value to
// the update ops' `lr` input every step (see train/optimizers.ts), so a schedule never changes
// a kernel. Schedules are also plain data (ScheduleConfig), so a checkpoint can record one.
//
//   constant:  lr
//   step:      lr · gamma^floor(step / every)                      (torch StepLR)
//   cosine:    linear warm-up over the first `warmupSteps` steps, lr·(step + 1)/warmupSteps, so
//              the first step already moves and step warmupSteps - 1 reaches lr; then
//              minLr + (lr - minLr)·(1 + cos(π·p))/2 with p = (step - warmupSteps)/(totalSteps -
//              warmupSteps), which is torch's CosineAnnealingLR with T_max = totalSteps -
//              warmupSteps and eta_min = minLr; minLr from totalSteps on.

export type Schedule = (step: number) => number;

export type ScheduleConfig =
  | { readonly kind: 'constant' }
  | { readonly kind: 'step'; readonly every: number; readonly gamma: number }
  | { readonly kind: 'cosine'; readonly totalSteps: number; readonly warmupSteps?: number; readonly minLr?: number };

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be an integer >= 0, got ${step}`);
}

function checkLr(lr: number, what = 'lr'): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`${what} must be a finite number >= 0, got ${lr}`);
}

export function constantSchedule(lr: number): Schedule {
  checkLr(lr);
  return (step) => {
    checkStep(step);
    return lr;
  };
}

/** lr·gamma^floor(step / every). */
export function stepSchedule(lr: number, every: number, gamma: number): Schedule {
  checkLr(lr);
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`step schedule: every must be an integer >= 1, got ${every}`);
  if (!(Number.isFinite(gamma) && gamma >= 0)) throw new RangeError(`step schedule: gamma must be a finite number >= 0, got ${gamma}`);
  return (step) => {
    checkStep(step);
    return lr * gamma ** Math.floor(step / every);
  };
}

/** Cosine annealing from lr to minLr over totalSteps, after an optional linear warm-up. */
export function cosineSchedule(lr: number, totalSteps: number, warmupSteps = 0, minLr = 0): Schedule {
  checkLr(lr);
  checkLr(minLr, 'cosine schedule: minLr');
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new RangeError(`cosine schedule: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
    throw new RangeError(`cosine schedule: totalSteps must be an integer above warmupSteps (${warmupSteps}), got ${totalSteps}`);
  }
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    const p = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * p))) / 2;
  };
}

/** The schedule that `config` describes, starting from the base rate `lr`. */
export function makeSchedule(config: ScheduleConfig, lr: number): Schedule {
  switch (config.kind) {
    case 'constant':
      return constantSchedule(lr);
    case 'step':
      return stepSchedule(lr, config.every, config.gamma);
    case 'cosine':
      return cosineSchedule(lr, config.totalSteps, config.warmupSteps, config.minLr);
  }
}
