import cliProgress from 'cli-progress'
import { failuresText, type Summary } from './summary.js'
import { holdBar } from './terminal.js'

/** Where progress shows: a bar on a terminal, else one plain line per change. */
export interface ProgressView {
  show(sum: Summary): void
  /** Once per outage: the service is not answering and the CLI keeps asking. */
  notAnswering(why: string, giveUpMs: number): void
  answersAgain(): void
}

/** The view for this process's output; `base` is the service's address, for the not-answering lines. */
export function progressView(base: string): ProgressView {
  return process.stdout.isTTY === true ? barView(base) : plainView(base)
}

function barView(base: string): ProgressView {
  const drawn = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | failed: {failures}{spared}{paused}{note}',
      hideCursor: true,
      // The bar's own SIGINT/SIGTERM handler gives the cursor back; exitOnInterrupt then exits.
      gracefulExit: true,
      // The stream whose isTTY chose the bar (cli-progress draws on stderr by default).
      stream: process.stdout,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  let last: { done: number; payload: Record<string, string | number> } = { done: 0, payload: {} }
  const draw = (done: number, payload: Record<string, string | number>) => {
    last = { done, payload }
    drawn.update(done, payload)
  }
  return {
    show(sum) {
      const payload = { ...barPayload(sum), note: '' }
      if (started) return draw(sum.done, payload)
      drawn.start(sum.total, sum.done, payload)
      holdBar(drawn)
      started = true
    },
    notAnswering(why, giveUpMs) {
      if (started) draw(last.done, { ...last.payload, note: ` | NOT ANSWERING (${why}), still trying` })
      else console.error(notAnsweringText(base, why, giveUpMs))
    },
    answersAgain() {
      if (!started) console.error(`the service at ${base} answers again`)
    },
  }
}

function plainView(base: string): ProgressView {
  let lastLine = ''
  return {
    show(sum) {
      const { etaText, failures } = barPayload(sum)
      const line = `progress ${sum.total === 0 ? 100 : Math.floor((sum.done / sum.total) * 100)}% ${sum.done}/${sum.total} rate ${sum.rate}/s eta ${etaText} failed ${failures}${sum.cancelled > 0 ? ` cancelled ${sum.cancelled}` : ''}${sum.paused ? ' paused' : ''}`
      if (line !== lastLine) console.log(line)
      lastLine = line
    },
    notAnswering: (why, giveUpMs) => console.error(notAnsweringText(base, why, giveUpMs)),
    answersAgain: () => console.error(`the service at ${base} answers again`),
  }
}

const barPayload = (sum: Summary) => ({
  rate: sum.rate,
  etaText: sum.eta === null ? '?' : `${sum.eta}s`,
  failures: failuresText(sum.failed),
  spared: sum.cancelled > 0 ? ` | cancelled: ${sum.cancelled}` : '',
  paused: sum.paused ? ' | PAUSED (a dependency is in trouble)' : '',
})

const notAnsweringText = (base: string, why: string, giveUpMs: number) => `the service at ${base} is not answering (${why}); still trying, for up to ${giveUpMs / 1000}s`
