import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../src/config/project-root.js'
import { freePort } from '../test/support/spawned-server.js'

export interface ServerProcess {
  url: string
  pid: number
  /** The last lines the process wrote (stdout and stderr), for error reports. */
  tail(): string[]
  /** How many lines it wrote in all (the service's log volume at the bench's level). */
  lineCount(): number
  stop(): Promise<number | null>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Starts `node <args>` on a free 127.0.0.1 port (PORT and HOST in env) and waits until `readyPath`
 * answers 200. Output is drained continuously (a full pipe would block a synchronous logger).
 */
export async function startServerProcess(args: string[], env: Record<string, string>, readyPath: string, nodeFlags: string[] = [], onLine: (line: string) => void = () => {}): Promise<ServerProcess> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: projectRoot,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let count = 0
  let partial = ''
  const collect = (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      if (!line) continue
      onLine(line)
      if (line.startsWith('[') && line.includes(' ms: ')) continue // --trace-gc output: not a log line
      count++
      lines.push(line)
      if (lines.length > 50) lines.shift()
    }
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited (${child.exitCode}) before answering:\n${lines.join('\n')}`)
    try {
      const response = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${args.join(' ')} did not answer 200 on ${readyPath} within 30 s:\n${lines.join('\n')}`)
    }
    await sleep(200)
  }
  return {
    url,
    pid: child.pid as number,
    tail: () => [...lines],
    lineCount: () => count,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!match) throw new Error(`no VmRSS for pid ${pid}`)
  return Math.round((Number(match[1]) / 1024) * 10) / 10
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** The pid of whatever listens on a 127.0.0.1 TCP port (best effort, via `ss`), to account for its CPU. */
export function listenerPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const match = /pid=(\d+)/.exec(out)
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs bench/load-runner.mjs (autocannon) in its own process with `spec`; resolves its JSON result.
 * Every spec is bounded by its duration or its number of requests; `timeoutMs` also bounds the
 * process, whatever the server under test does.
 */
export async function runLoad<T>(spec: Record<string, unknown>, timeoutMs = 20 * 60_000): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'))
  const specFile = join(dir, 'spec.json')
  const resultFile = join(dir, 'result.json')
  writeFileSync(specFile, JSON.stringify(spec))
  try {
    const child = spawn(process.execPath, [join(projectRoot, 'bench', 'load-runner.mjs'), specFile, resultFile], {
      cwd: projectRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    clearTimeout(timer)
    if (code !== 0) throw new Error(`load runner (${String(spec.mode)}) exited with ${code ?? 'a signal'}`)
    return JSON.parse(readFileSync(resultFile, 'utf8')) as T
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
