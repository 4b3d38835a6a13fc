import type { Metric, Registry } from 'prom-client'

/** The labels of every answer: the method, the registered route, the status and the Sunbird err code ("none" on success). */
export type RequestLabels = {
  method: string
  /** The registered route pattern, or "unmatched" (see src/http/route-label.ts). */
  route: string
  status: string
  err: string
}

/** One label set's numbers. */
interface Series {
  readonly labels: RequestLabels
  count: number
  sum: number
  /** Observations per bucket, not cumulative, in the order of the bounds; those above the last are in `count` only. */
  readonly perBucket: number[]
}

/** A sample as prom-client's Registry writes it: `metricName{labels,sharedLabels} value`. */
interface Sample {
  value: number
  labels: Record<string, string | number>
  sharedLabels?: RequestLabels
  metricName?: string
}

/** What prom-client's Registry reads of a metric to write the page (getForPromString when there is one, else get). */
interface WrittenMetric {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  get(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: Sample[] }>
  getForPromString?(): Promise<{ name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: Sample[] }>
  reset(): void
}

/**
 * The request counter and the request duration histogram, both by method, route, status and err:
 * one observation per answer, kept as plain numbers per label set and written out the way
 * prom-client writes its own Counter and Histogram (request-series.test.ts compares the two texts).
 * prom-client builds, checks and looks up a label hash per metric and observation, about a
 * microsecond of every request; here it is one map lookup.
 */
export class RequestSeries {
  private readonly byKey = new Map<string, Series>()
  /** In the order first seen: prom-client writes label sets in that order. */
  private readonly all: Series[] = []

  constructor(
    registry: Registry,
    private readonly counter: { name: string; help: string },
    private readonly histogram: { name: string; help: string; buckets: readonly number[] },
  ) {
    // The Registry reads a metric through get()/getForPromString(), reset() and its name only.
    registry.registerMetric(this.counterMetric() as unknown as Metric)
    registry.registerMetric(this.histogramMetric() as unknown as Metric)
  }

  observe(labels: RequestLabels, seconds: number): void {
    // NUL, which none of these label values holds: a space could join two different label sets into one key.
    const key = `${labels.method}\u0000${labels.route}\u0000${labels.status}\u0000${labels.err}`
    let series = this.byKey.get(key)
    if (series === undefined) {
      series = { labels: { method: labels.method, route: labels.route, status: labels.status, err: labels.err }, count: 0, sum: 0, perBucket: this.histogram.buckets.map(() => 0) }
      this.byKey.set(key, series)
      this.all.push(series)
    }
    series.count += 1
    series.sum += seconds
    const { buckets } = this.histogram
    for (let i = 0; i < buckets.length; i++) {
      if (seconds <= (buckets[i] as number)) {
        series.perBucket[i] = (series.perBucket[i] as number) + 1
        break
      }
    }
  }

  private reset(): void {
    this.byKey.clear()
    this.all.length = 0
  }

  private counterMetric(): WrittenMetric {
    const { name, help } = this.counter
    const values = () => this.all.map((series): Sample => ({ value: series.count, labels: series.labels }))
    return { name, help, type: 'counter', aggregator: 'sum', get: async () => ({ name, help, type: 'counter', aggregator: 'sum', values: values() }), reset: () => this.reset() }
  }

  private histogramMetric(): WrittenMetric {
    const { name, help, buckets } = this.histogram
    // As prom-client's Histogram: per label set its cumulative buckets, +Inf, sum and count; `le` first, then the set's own labels.
    const values = () =>
      this.all.flatMap((series): Sample[] => {
        let cumulative = 0
        return [
          ...buckets.map((bound, i): Sample => {
            cumulative += series.perBucket[i] as number
            return { value: cumulative, labels: { le: bound }, sharedLabels: series.labels, metricName: `${name}_bucket` }
          }),
          { value: series.count, labels: { le: '+Inf' }, sharedLabels: series.labels, metricName: `${name}_bucket` },
          { value: series.sum, labels: {}, sharedLabels: series.labels, metricName: `${name}_sum` },
          { value: series.count, labels: {}, sharedLabels: series.labels, metricName: `${name}_count` },
        ]
      })
    // get() as prom-client's: each sample's labels and shared labels in one object.
    const splayed = () => values().map(({ sharedLabels, labels, ...sample }): Sample => ({ ...sample, labels: { ...labels, ...sharedLabels } }))
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      getForPromString: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values() }),
      get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: splayed() }),
      reset: () => this.reset(),
    }
  }
}
