import { stopBar } from './terminal.js'

/** Ctrl-C or a kill while following: the jobs go on in the service, so the bar is stopped and the way back is said. */
export function exitOnInterrupt(jobIds: string[]) {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      stopBar()
      console.error(`interrupted; the jobs go on: follow again with --job ${jobIds.join(',')} (add --cancel to stop them)`)
      process.exit(code)
    })
  }
}
