import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './spawned-server.js'
import { waitUntil } from './wait-until.js'

/** A redis-server of a test's own (the machine's binary), on a free loopback port; the machine's Redis is never touched. */
export interface OwnRedis {
  port: number
  /** The PEM of the certificate it serves TLS with (self-signed for 127.0.0.1), when started with TLS. */
  certificate?: string
  stop(): Promise<void>
}

/** A self-signed certificate for 127.0.0.1 (openssl), and its key, in `dir`. */
function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'redis.crt')
  const key = join(dir, 'redis.key')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
    encoding: 'utf8',
  })
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`)
  return { cert, key }
}

/**
 * Starts `redis-server` with `args` (e.g. `--requirepass`), no snapshots and no append-only file,
 * on a free port (the TLS port when `tls`, with no plain port), and waits until it answers.
 */
export async function startOwnRedis({ args = [], tls = false }: { args?: string[]; tls?: boolean } = {}): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'own-redis-'))
  const port = await freePort()
  const certificate = tls ? selfSignedCertificate(dir) : undefined
  const portArgs = certificate
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certificate.cert, '--tls-key-file', certificate.key, '--tls-auth-clients', 'no']
    : ['--port', String(port)]
  const child: ChildProcess = spawn('redis-server', ['--bind', '127.0.0.1', ...portArgs, '--dir', dir, '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await waitUntil('redis-server ready', () => output.includes('Ready to accept connections') || child.exitCode !== null, { timeoutMs: 10_000 })
  if (child.exitCode !== null) throw new Error(`redis-server did not start:\n${output}`)
  return {
    port,
    ...(certificate && { certificate: certificate.cert }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
