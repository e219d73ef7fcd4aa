/**
 * progress — progress bars on stderr (cli-progress) for long CLI work; silent when stderr is
 * not a terminal, so piped output and JSON stay clean.
 */
import cliProgress from 'cli-progress';

export interface Bar {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export function progressBar(title: string): Bar {
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {percentage}% | {value}/{total} | {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = '') {
      if (!started) {
        bar.start(total, 0, { label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
