import { stopBar } from './terminal.js'

/** Ctrl-C or a kill while following: the jobs go on in the service, so the bar is stopped and the way back is said. `cancelled`: the jobs were cancelled by this CLI. */
export function exitOnInterrupt(jobIds: string[], cancelled = false) {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      stopBar()
      const stop = cancelled ? 'they are cancelled and settle their last users' : 'add --cancel to stop them'
      console.error(`interrupted; the jobs go on: follow again with --job ${jobIds.join(',')} (${stop})`)
      process.exit(code)
    })
  }
}
