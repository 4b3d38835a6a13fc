import { startNode, status, up } from '../../../scripts/services.mjs'
import { signalLocalServer } from '../../support/faults.js'

export type Server = 'cassandra' | 'kafka' | 'keycloak'
export const SERVERS: readonly Server[] = ['cassandra', 'kafka', 'keycloak']
export type FaultKind = `${Server}-pause` | `${Server}-kill`

/**
 * Every kind of fault the suite injects. A pause freezes the server's processes (SIGSTOP) for 1–4 s
 * then resumes them (SIGCONT): connections stay open and requests hang, as a stalled node looks. A
 * kill is SIGKILL to the whole process group, as an evicted pod dies, then a start of the same
 * server on the same data (Keycloak: its dev-mem realm imported again from the realm file).
 */
export const FAULT_KINDS: readonly FaultKind[] = SERVERS.flatMap((server) => [`${server}-pause`, `${server}-kill`] as const)

/** One fault of the schedule: when (ms after the stream starts), what, and for a pause how long. */
export interface PlannedFault {
  kind: FaultKind
  atMs: number
  pauseMs?: number
}

export { seededRandom } from '../../support/seeded-random.js'

/**
 * The run's schedule over a window of `windowMs` (the stream's expected length): one kill of each
 * server and `pausesPerServer` pauses of each, at seeded random points. The kills fall in three
 * slots of the window so no two restarts start together on 2 cores: Keycloak's in the first (its
 * start-dev restart, realm import included, is the slowest: 30–90 s here, minutes under load),
 * Cassandra's and Kafka's in the second and third in a seeded order. Keycloak's pauses come before
 * its kill (after it they would wait for its restart and stretch the run); the others' anywhere.
 */
export function planFaults(random: () => number, { windowMs, pausesPerServer }: { windowMs: number; pausesPerServer: number }): PlannedFault[] {
  const within = (from: number, to: number) => Math.floor(windowMs * (from + random() * (to - from)))
  const pauseMs = () => 1000 + Math.floor(random() * 3000)
  const later: Server[] = random() < 0.5 ? ['cassandra', 'kafka'] : ['kafka', 'cassandra']
  const plan: PlannedFault[] = [
    { kind: 'keycloak-kill', atMs: within(0.14, 0.22) },
    { kind: `${later[0] as Server}-kill`, atMs: within(0.3, 0.5) },
    { kind: `${later[1] as Server}-kill`, atMs: within(0.6, 0.8) },
  ]
  for (const server of SERVERS) {
    for (let i = 0; i < pausesPerServer; i++) plan.push({ kind: `${server}-pause`, atMs: server === 'keycloak' ? within(0, 0.1) : within(0, 0.95), pauseMs: pauseMs() })
  }
  return plan.sort((a, b) => a.atMs - b.atMs)
}

/** SIGKILL to the whole process group of a local server, and wait until it is gone. */
async function killServer(server: Server): Promise<void> {
  const [entry] = await status([server])
  if (!entry?.pid) throw new Error(`the local ${server} was not started by scripts/services.mjs`)
  process.kill(-entry.pid, 'SIGKILL')
  for (let waited = 0; waited < 10_000; waited += 100) {
    try {
      process.kill(entry.pid, 0)
    } catch {
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Starts a killed server again and waits until it answers. Cassandra and Kafka come back through
 * startNode (no lock of `up`, so one server's slow restart never holds up another's); Keycloak,
 * which has no members, through `up`. On a loaded 2-core machine one start's wait may run out while
 * the server is still booting: it is asked again (it waits for a member still starting, never
 * starts a second one), for at most 10 minutes.
 */
export async function startAgain(server: Server): Promise<void> {
  const deadline = Date.now() + 600_000
  const options = { cassandraNodes: 1, kafkaBrokers: 1, log: () => undefined }
  for (;;) {
    try {
      if (server === 'keycloak') await up([server], options)
      else await startNode(server, 1, options)
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
    }
  }
}

export interface FaultInjector {
  /** Faults injected so far, per kind. */
  counts: Record<FaultKind, number>
  /** Faults the harness could not inject or recover from (a server that would not start again). */
  failures: string[]
  /** Resolves once every planned fault is done and every server runs again. */
  done: Promise<void>
}

/**
 * Runs the schedule: one sequence per server, the three side by side (a Keycloak restart does not
 * hold back a pause of Cassandra). Within a server's sequence a fault waits for the one before it,
 * so a pause planned during that server's restart comes right after it.
 */
export function injectFaults(plan: readonly PlannedFault[], log: (line: string) => void): FaultInjector {
  const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>
  const failures: string[] = []
  const started = Date.now()
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
  const seconds = (ms: number) => (ms / 1000).toFixed(1)

  async function inject(fault: PlannedFault): Promise<void> {
    const [server, action] = fault.kind.split('-') as [Server, 'pause' | 'kill']
    const from = Date.now()
    if (action === 'pause') {
      await signalLocalServer(server, 'SIGSTOP')
      counts[fault.kind]++
      try {
        await sleep(fault.pauseMs ?? 2000)
      } finally {
        await signalLocalServer(server, 'SIGCONT')
      }
    } else {
      await killServer(server)
      counts[fault.kind]++
      await sleep(1000)
      await startAgain(server)
    }
    log(`${fault.kind} at ${seconds(from - started)} s for ${seconds(Date.now() - from)} s`)
  }

  const done = Promise.all(
    SERVERS.map(async (server) => {
      for (const fault of plan.filter((f) => f.kind.startsWith(`${server}-`))) {
        await sleep(started + fault.atMs - Date.now())
        try {
          await inject(fault)
        } catch (err) {
          failures.push(`${fault.kind}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
        }
      }
    }),
  ).then(() => undefined)

  return { counts, failures, done }
}
