const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/**
 * Sunbird's `yyyy-MM-dd HH:mm:ss:SSSZ` in UTC (note the colon before the milliseconds), used for
 * the envelope `ts` and the text date columns of Sunbird's tables.
 */
export function formatSunbirdTimestamp(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}:${pad(date.getUTCMilliseconds(), 3)}+0000`
  )
}

/** The instant a `formatSunbirdTimestamp` text names; undefined for any other text. */
export function parseSunbirdTimestamp(text: unknown): Date | undefined {
  if (typeof text !== 'string') return undefined
  const parts = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}):(\d{3})\+0000$/.exec(text)
  if (!parts) return undefined
  const [year, month, day, hours, minutes, seconds, ms] = parts.slice(1).map(Number) as [number, number, number, number, number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day, hours, minutes, seconds, ms))
  // A text that names no real instant (month 13, 25 o'clock) would roll over into another: not this format's.
  return formatSunbirdTimestamp(date) === text ? date : undefined
}
