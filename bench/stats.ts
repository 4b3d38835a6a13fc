export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile of already sorted samples (p in 0..100]. */
function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1] as number
}

/** p50/p99 by sorting every sample (no histogram bucketing), the same math for baseline B and the service. */
export function summarize(samplesMs: readonly number[]): LatencySummary {
  if (samplesMs.length === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN }
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const sum = sorted.reduce((total, v) => total + v, 0)
  return {
    count: sorted.length,
    p50: round(nearestRank(sorted, 50)),
    p99: round(nearestRank(sorted, 99)),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sum / sorted.length),
  }
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
