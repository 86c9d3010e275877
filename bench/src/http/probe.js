// In-process profiling of a target over a window the caller chooses (see ../profile.js):
// start-up and warm-up stay out of the figures, which a whole-process --cpu-prof would include.
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';

const session = new Session();
session.connect();

let gc;
let observer;
let cpu0;

/** Starts the CPU profiler or the allocation sampler (`kind`), and counts GC pauses. */
export async function start(kind) {
  gc = { count: 0, ms: 0, byKind: {} };
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.ms += entry.duration;
      const name = entry.detail?.kind ?? entry.kind;
      gc.byKind[name] = (gc.byKind[name] ?? 0) + 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  if (kind === 'cpu') {
    await session.post('Profiler.enable');
    // 100 µs: fine enough for frames of a few µs per request over tens of thousands of requests.
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  } else {
    await session.post('HeapProfiler.enable');
    // Garbage counts too: per-request allocations die young, and they are what we look for.
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  cpu0 = process.cpuUsage();
}

/**
 * Stops; returns the profile, the GC counts and the CPU time of the window (µs), in all and in
 * the kernel (system time: the socket writes' syscalls, loopback delivery included).
 */
export async function stop(kind) {
  const cpu = process.cpuUsage(cpu0);
  const { profile } =
    kind === 'cpu'
      ? await session.post('Profiler.stop')
      : await session.post('HeapProfiler.stopSampling');
  observer.disconnect();
  return { profile, gc, cpuMicros: cpu.user + cpu.system, systemMicros: cpu.system };
}
