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
