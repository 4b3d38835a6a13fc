import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { projectRoot } from '../../src/config/project-root.js'

/** A loopback port nothing listens on right now (bound, read, released): for servers to start on, or to point a client at a closed port. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Compiles src/ to dist/ with the production tsconfig, as `npm run build` does (the contract tier's global setup). */
export function buildServer(): void {
  const tsc = join(projectRoot, 'node_modules', '.bin', 'tsc')
  const result = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: projectRoot, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`)
}

export interface SpawnedServer {
  url: string
  process: ChildProcess
  /** Every line the server logged so far. */
  logs: string[]
  /** Resolves with the first logged line that satisfies `match` (one already logged, or the next). */
  logged(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Every server this test process started and that still runs. A server outliving its test (one
 * whose stop a failing assertion skipped) would go on sweeping, relaying and auditing in the tests'
 * keyspace, in whatever Cassandra listens on the port next (the cluster suite's, the fault
 * suite's): they are killed after each test file, and when the test process exits.
 */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** Kills every server this process started and did not stop (stop-leftover-servers.ts runs it after each test file). */
export async function stopLeftoverServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }),
    ),
  )
}

/**
 * Runs the built service (node dist/src/main.js) as its own process, configured only by env, on
 * `options.port` or a free port; resolves once it listens (within `startTimeoutMs`, default 20 s; a
 * loaded machine needs more for a cluster's instances).
 */
export async function startBuiltServer(env: Record<string, string>, options: { port?: number; startTimeoutMs?: number } = {}): Promise<SpawnedServer> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, [join(projectRoot, 'dist', 'src', 'main.js')], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const watchers = new Set<(line: string) => void>()
  let buffered = ''
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines.filter(Boolean)) {
      logs.push(line)
      for (const watch of watchers) watch(line)
    }
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  running.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child)
      resolve(code)
    }),
  )

  const logged = (match: (line: string) => boolean, timeoutMs = 20_000) => {
    const already = logs.find(match)
    if (already !== undefined) return Promise.resolve(already)
    return new Promise<string>((resolve, reject) => {
      const watch = (line: string) => {
        if (!match(line)) return
        done()
        resolve(line)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no matching log line within ${timeoutMs} ms:\n${logs.join('\n')}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        watchers.delete(watch)
      }
      watchers.add(watch)
    })
  }

  const listening = logged((line) => line.includes('"listening"'), options.startTimeoutMs)
  const outcome = await Promise.race([listening.then(() => 'listening' as const), exited.then(() => 'exited' as const)]).catch(() => 'timed out' as const)
  if (outcome !== 'listening') {
    // Never leave a half-started server behind: its sweeper would keep working on the tests' data.
    if (child.exitCode === null) child.kill('SIGKILL')
    throw new Error(`server did not start (${outcome}):\n${logs.join('\n')}`)
  }
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    logs,
    logged,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}
