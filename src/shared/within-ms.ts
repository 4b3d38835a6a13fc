/**
 * What `work` gives within `ms`, else `fallback` (also when `work` fails); the work itself is not
 * stopped. For waits that must end: a readiness probe, closing connections before an exit.
 */
export async function withinMs<T>(ms: number, work: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms)
  })
  try {
    return await Promise.race([work.catch(() => fallback), late])
  } finally {
    clearTimeout(timer)
  }
}
