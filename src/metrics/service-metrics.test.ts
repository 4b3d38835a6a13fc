import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parsePrometheusText, sampleValue } from '../../test/support/prometheus-text.js'
import { projectRoot } from '../config/project-root.js'
import { createServiceMetrics } from './service-metrics.js'

const scrape = async (metrics: ReturnType<typeof createServiceMetrics>) => parsePrometheusText(await metrics.render())

describe('ServiceMetrics: the delete-user event relay', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('when events could not be published, then they are counted by reason, kafka and record apart', async () => {
    const metrics = createServiceMetrics()

    metrics.countEventPublishFailures('kafka', 3)
    metrics.countEventPublishFailures('record', 2)
    metrics.countEventPublishFailures('kafka', 1)

    const samples = await scrape(metrics)
    expect(sampleValue(samples, 'sunbird_user_delete_events_publish_failures_total', { reason: 'kafka' })).toBe(4)
    expect(sampleValue(samples, 'sunbird_user_delete_events_publish_failures_total', { reason: 'record' })).toBe(2)
  })

  it('when events wait in the outbox, then how many, and the age of the oldest at each scrape: it keeps growing between two reads of the relay', async () => {
    const metrics = createServiceMetrics()

    metrics.setEventsWaiting(2, new Date(Date.now() - 90_000))

    let samples = await scrape(metrics)
    expect(sampleValue(samples, 'sunbird_user_delete_events_waiting')).toBe(2)
    expect(sampleValue(samples, 'sunbird_user_delete_events_oldest_waiting_seconds')).toBe(90)
    vi.setSystemTime(Date.now() + 30_000)
    samples = await scrape(metrics)
    expect(sampleValue(samples, 'sunbird_user_delete_events_oldest_waiting_seconds')).toBe(120)
  })

  it('when nothing waits, then both are 0', async () => {
    const metrics = createServiceMetrics()
    metrics.setEventsWaiting(5, new Date(Date.now() - 1000))

    metrics.setEventsWaiting(0, undefined)

    const samples = await scrape(metrics)
    expect(sampleValue(samples, 'sunbird_user_delete_events_waiting')).toBe(0)
    expect(sampleValue(samples, 'sunbird_user_delete_events_oldest_waiting_seconds')).toBe(0)
  })

  it('when the relay judged the event topic at connect, then the at-risk gauge says 1 for a topic at risk and 0 otherwise; 0 before any check', async () => {
    const metrics = createServiceMetrics()
    expect(sampleValue(await scrape(metrics), 'sunbird_user_delete_events_topic_at_risk')).toBe(0)

    metrics.setEventsTopicAtRisk(true)
    expect(sampleValue(await scrape(metrics), 'sunbird_user_delete_events_topic_at_risk')).toBe(1)

    metrics.setEventsTopicAtRisk(false)
    expect(sampleValue(await scrape(metrics), 'sunbird_user_delete_events_topic_at_risk')).toBe(0)
  })
})

describe('ServiceMetrics: what the Cassandra call metrics say unavailable means', () => {
  it('when scraped, then the help of both Cassandra call metrics names replica failures beside an outage (ReadFailure and WriteFailure count as unavailable, answered 503)', async () => {
    const text = await createServiceMetrics().render()

    const help = (name: string) => text.split('\n').find((line) => line.startsWith(`# HELP sunbird_user_delete_${name} `)) ?? ''
    expect(help('cassandra_call_duration_seconds')).toContain('unavailable: unreachable, timed out, overloaded, or a replica failed the read or write, ReadFailure or WriteFailure')
    expect(help('cassandra_call_failures_total')).toContain('unavailable: unreachable, timed out, overloaded, or a replica failed the read or write')
  })
})

describe('ServiceMetrics: the series operators are told of', () => {
  it('when the service registers a series, then the metrics table of docs/operating.md has its row (a series added without one is scraped by no one)', () => {
    const operating = readFileSync(join(projectRoot, 'docs', 'operating.md'), 'utf8')

    const names = createServiceMetrics()
      .registry.getMetricsAsArray()
      .map((metric) => metric.name)
      .filter((name) => name.startsWith('sunbird_user_delete_'))

    expect(names.length).toBeGreaterThan(10)
    expect(names.filter((name) => !operating.includes(`| \`${name}\` |`))).toEqual([])
  })
})
