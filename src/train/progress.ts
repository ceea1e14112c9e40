// Progress of a training run on a terminal: a bar per epoch with loss, accuracy and images per
// second (cli-progress), and one summary line per finished epoch. Without a TTY (logs, CI) a
// plain line every tenth of an epoch instead of the bar.

import cliProgress from 'cli-progress';
import type { TrainProgress } from './trainer.js';

export function terminalProgress(label: string): { onProgress: (p: TrainProgress) => void; stop: () => void } {
  const tty = !!process.stderr.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (p: TrainProgress) => {
    const fields = { label, epoch: `${p.epoch}/${p.epochs}`, loss: p.loss.toFixed(4), acc: Number.isNaN(p.accuracy) ? '-' : `${(100 * p.accuracy).toFixed(1)}%`, ips: p.imagesPerSecond.toFixed(0) };
    if (p.epochDone) {
      stop();
      const test = p.testAccuracy === undefined ? '' : `, test accuracy ${(100 * p.testAccuracy).toFixed(2)}%`;
      console.log(`${label} epoch ${p.epoch}/${p.epochs}: loss ${fields.loss}, train accuracy ${fields.acc}${test}, ${fields.ips} images/s`);
      return;
    }
    if (!tty) {
      const tenth = Math.max(1, Math.floor(p.stepsPerEpoch / 10));
      if (p.step % tenth === 0) console.log(`${label} epoch ${fields.epoch} step ${p.step}/${p.stepsPerEpoch}: loss ${fields.loss}, accuracy ${fields.acc}, ${fields.ips} images/s`);
      return;
    }
    if (!bar) {
      bar = new cliProgress.SingleBar(
        { format: '{label} epoch {epoch} [{bar}] {value}/{total} loss {loss} acc {acc} {ips} img/s', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.stepsPerEpoch, p.step, fields);
    } else bar.update(p.step, fields);
  };
  return { onProgress, stop };
}
