// Progress bars on stderr for long work (replay, import, check), only when stderr is a terminal.
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(n: number): void;
  stop(): void;
}

export function progress(label: string, total: number): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const fmt = total > 0 ? `${label} [{bar}] {percentage}% {value}/{total}` : `${label} {value} events`;
  const bar = new SingleBar({ format: fmt, stream: process.stderr, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  bar.start(total, 0);
  return { update: (n) => bar.update(n), stop: () => bar.stop() };
}
