/**
 * Small statistics for the benchmarks: run a function after warm-ups, collect samples, report median and p95.
 */

export async function sample<T>(
  runs: number,
  warmups: number,
  fn: () => Promise<T>,
): Promise<{ ms: number[]; results: T[] }> {
  for (let i = 0; i < warmups; i++) await fn();
  const ms: number[] = [];
  const results: T[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    results.push(await fn());
    ms.push(performance.now() - started);
  }
  return { ms, results };
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}
