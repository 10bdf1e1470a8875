// A long run of the service process on a synchronised cluster, cycles back to back: its heap,
// resident memory and active handles sampled along the way should stay flat, and Node.js should
// print no warning (a listener leak prints MaxListenersExceededWarning).
import { progress } from "./progress";
import { total, type ServiceProcess } from "./service-process";

export interface SoakSample {
  cycle: number;
  heapUsedBytes: number;
  rssBytes: number;
  activeHandles: number;
}

export interface SoakResult {
  models: number;
  cycles: number;
  seconds: number;
  samples: SoakSample[];
  warnings: string[];
}

export async function soak(service: ServiceProcess, models: number, cycles: number): Promise<SoakResult> {
  const started = performance.now();
  const samples: SoakSample[] = [];
  const first = service.cyclesFinished;
  const steps = 10;
  for (let step = 0; step <= steps; step++) {
    await service.untilCycles(first + Math.max(1, Math.round((cycles * step) / steps)));
    const scrape = await service.scrape();
    samples.push({
      cycle: service.cyclesFinished - first,
      heapUsedBytes: total(scrape, "nodejs_heap_size_used_bytes"),
      rssBytes: total(scrape, "process_resident_memory_bytes"),
      activeHandles: total(scrape, "nodejs_active_handles_total"),
    });
    const s = samples.at(-1)!;
    progress(
      `soak at ${models} models: cycle ${s.cycle}, heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB, RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MiB, ${s.activeHandles} handles`,
    );
  }
  return {
    models,
    cycles: samples.at(-1)!.cycle,
    seconds: (performance.now() - started) / 1000,
    samples,
    warnings: [...service.warnings],
  };
}
