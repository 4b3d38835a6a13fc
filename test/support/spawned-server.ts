import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
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

/** Compiles src/ to dist/ with the production tsconfig, as `npm run build` does. */
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
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Runs the built service (node dist/src/main.js) as its own process, configured only by env, on `options.port` or a free port. */
export async function startBuiltServer(env: Record<string, string>, options: { port?: number } = {}): Promise<SpawnedServer> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, [join(projectRoot, 'dist', 'src', 'main.js')], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  let buffered = ''
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    logs.push(...lines.filter(Boolean))
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + 20_000
  while (!logs.some((line) => line.includes('"listening"'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      // Never leave a half-started server behind: its sweeper would keep working on the tests' data.
      if (child.exitCode === null) child.kill('SIGKILL')
      throw new Error(`server did not start:\n${logs.join('\n')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    logs,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}
