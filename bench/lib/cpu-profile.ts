// A V8 CPU profile of this process around one piece of work (node:inspector), written as a .cpuprofile that Chrome
// DevTools or speedscope opens: where an allocation's microseconds go, without the baselines' calls mixed in.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export async function withCpuProfile<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!file) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}
