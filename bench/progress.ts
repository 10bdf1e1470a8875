// Progress lines of the benchmark on stderr, with the time since it started.
const started = Date.now();

export function progress(message: string): void {
  process.stderr.write(`[bench +${Math.round((Date.now() - started) / 1000)}s] ${message}\n`);
}
