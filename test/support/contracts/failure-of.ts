/** Far past any bound the subjects configure: a call still pending then hangs. */
const HANG_MS = 10_000

/** The call's failure (undefined when it succeeded), or a note that it was still pending after HANG_MS: a hang fails the case instead of the run. */
export async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still pending after ${HANG_MS} ms`), HANG_MS)
  })
  return Promise.race([
    call().then(
      () => undefined,
      (err: unknown) => err,
    ),
    hung,
  ]).finally(() => clearTimeout(timer))
}
