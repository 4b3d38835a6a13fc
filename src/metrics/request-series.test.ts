import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { type RequestLabels, RequestSeries } from './request-series.js'

const COUNTER = { name: 'test_http_requests_total', help: 'HTTP requests answered' }
const HISTOGRAM = { name: 'test_http_request_duration_seconds', help: 'Time to the answer', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }

/** The same observations through prom-client's own Counter and Histogram: the text the page had before. */
function promClientText(observations: [RequestLabels, number][]): Promise<string> {
  const registry = new Registry()
  const labelNames = ['method', 'route', 'status', 'err'] as const
  const counter = new Counter({ ...COUNTER, labelNames, registers: [registry] })
  const histogram = new Histogram({ ...HISTOGRAM, labelNames, registers: [registry] })
  for (const [labels, seconds] of observations) {
    counter.inc(labels)
    histogram.observe(labels, seconds)
  }
  return registry.metrics()
}

function seriesText(observations: [RequestLabels, number][]): Promise<string> {
  const registry = new Registry()
  const series = new RequestSeries(registry, COUNTER, HISTOGRAM)
  for (const [labels, seconds] of observations) series.observe(labels, seconds)
  return registry.metrics()
}

const refused = { method: 'POST', route: '/api/user/v1/delete', status: '401', err: 'UOS_0070' }
const deleted = { method: 'POST', route: '/api/user/v1/delete', status: '200', err: 'none' }
const quoted = { method: 'GET', route: 'unmatched', status: '404', err: 'a "quoted" \\ value' }

describe('RequestSeries', () => {
  it('when nothing was answered yet, then the page has the two metrics without samples, as prom-client writes them', async () => {
    expect(await seriesText([])).toBe(await promClientText([]))
  })

  it('when answers of several label sets were observed, on every bucket bound, between them and past the last, then the page is the text prom-client writes for them', async () => {
    const observations: [RequestLabels, number][] = [
      [refused, 0.0001],
      [deleted, 0.3],
      [refused, 0.005],
      [quoted, 0.0051],
      [deleted, 10],
      [deleted, 12.5],
      ...HISTOGRAM.buckets.map((bound): [RequestLabels, number] => [{ ...refused }, bound]),
      [refused, 0.1 + 0.2],
    ]
    expect(await seriesText(observations)).toBe(await promClientText(observations))
  })

  it('when two label sets differ only in where a space falls between their values, then each is its own series, as in prom-client', async () => {
    const observations: [RequestLabels, number][] = [
      [{ method: 'GET', route: 'a b', status: '404', err: 'x' }, 0.001],
      [{ method: 'GET', route: 'a', status: 'b 404', err: 'x' }, 0.002],
    ]
    expect(await seriesText(observations)).toBe(await promClientText(observations))
  })

  it('when read as JSON, then each sample has the labels and value prom-client gives it', async () => {
    const observations: [RequestLabels, number][] = [
      [refused, 0.004],
      [deleted, 0.3],
    ]
    const json = async (registry: Registry) => JSON.parse(JSON.stringify(await registry.getMetricsAsJSON(), (key, value) => (key === 'exemplar' ? undefined : value)))
    const theirs = new Registry()
    const labelNames = ['method', 'route', 'status', 'err'] as const
    const counter = new Counter({ ...COUNTER, labelNames, registers: [theirs] })
    const histogram = new Histogram({ ...HISTOGRAM, labelNames, registers: [theirs] })
    const ours = new Registry()
    const series = new RequestSeries(ours, COUNTER, HISTOGRAM)
    for (const [labels, seconds] of observations) {
      counter.inc(labels)
      histogram.observe(labels, seconds)
      series.observe(labels, seconds)
    }
    expect(await json(ours)).toEqual(await json(theirs))
  })

  it('when its registry is merged with another, as the page is rendered, then its samples are written there too', async () => {
    const registry = new Registry()
    const series = new RequestSeries(registry, COUNTER, HISTOGRAM)
    series.observe(refused, 0.002)
    const merged = await Registry.merge([registry, new Registry()]).metrics()
    expect(merged).toBe(await promClientText([[refused, 0.002]]))
  })

  it('when the registry is reset, then the samples are gone', async () => {
    const registry = new Registry()
    const series = new RequestSeries(registry, COUNTER, HISTOGRAM)
    series.observe(refused, 0.002)
    registry.resetMetrics()
    expect(await registry.metrics()).toBe(await promClientText([]))
  })
})
