import type { Server } from 'node:http'
import { connect } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { deferContinueToRoutes } from '../../src/http/expect-continue.js'
import { type AppOverFakes, appOverFakes } from './fakes/app-over-fakes.js'

/** One answer as read off the wire: status, headers (names in lower case) and body. */
export interface WireAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** What one connection carried back. */
export interface Conversation {
  /** Every answer, `100 Continue` included, in the order they came. */
  answers: WireAnswer[]
  /** Whether the server closed the connection (rather than the client, once the answers awaited had come). */
  closedByServer: boolean
}

/** The answers in `raw`, one after another; each final one is framed by its Content-Length (every answer of the app has one). */
export function parseAnswers(raw: string): WireAnswer[] {
  const answers: WireAnswer[] = []
  let rest = raw
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return answers
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
}

/** How long a conversation may last before it fails: far beyond a loaded machine's first answer. */
export const CONVERSATION_DEADLINE_MS = 10_000

/**
 * One raw TCP connection to 127.0.0.1:`port`: writes `first` at once, then each of `then` `gapMs`
 * after the one before (into whatever the server left of the connection). It ends when the server
 * closes the connection, or, given `finalAnswers`, once that many final (non-1xx) answers have come
 * and `quietMs` passed with nothing more (an answer or a close that follows them is still seen).
 * Neither within CONVERSATION_DEADLINE_MS fails, naming what came: no timer decides an answer is missing.
 */
export function converse(port: number, first: string, then: readonly string[] = [], options: { finalAnswers?: number; gapMs?: number; quietMs?: number } = {}): Promise<Conversation> {
  const { finalAnswers, gapMs = 100, quietMs = 100 } = options
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let raw = ''
    let closedByClient = false
    let quiet: NodeJS.Timeout | undefined
    const timers: NodeJS.Timeout[] = []
    const stop = () => {
      for (const timer of timers) clearTimeout(timer)
      clearTimeout(quiet)
    }
    const finalCount = () => parseAnswers(raw).filter((answer) => answer.status >= 200).length
    socket.on('data', (chunk) => {
      raw += chunk.toString('latin1')
      if (finalAnswers === undefined || finalCount() < finalAnswers) return
      // Anything more restarts the wait: an extra answer, or the close after it, is part of what came.
      clearTimeout(quiet)
      quiet = setTimeout(() => {
        closedByClient = true
        socket.destroy()
      }, quietMs)
    })
    // A reset after the answer is a close too; 'close' follows.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      stop()
      resolve({ answers: parseAnswers(raw), closedByServer: !closedByClient })
    })
    socket.write(first)
    then.forEach((request, index) => {
      timers.push(setTimeout(() => socket.writable && socket.write(request), gapMs * (index + 1)))
    })
    timers.push(
      setTimeout(() => {
        stop()
        socket.removeAllListeners('close')
        socket.destroy()
        const awaited = finalAnswers === undefined ? 'the server to close the connection' : `${finalAnswers} final answer(s)`
        const statuses = parseAnswers(raw).map((answer) => answer.status)
        reject(new Error(`waited ${CONVERSATION_DEADLINE_MS} ms for ${awaited}; came: [${statuses.join(', ')}], connection still open`))
      }, CONVERSATION_DEADLINE_MS),
    )
  })
}

/** The app over fakes (body limit FAKE_MAX_BODY_BYTES) served on a real port with the Expect handling main.ts installs. */
export async function serveOverFakes(): Promise<{ port: number; fakes: AppOverFakes; close(): Promise<void> }> {
  const fakes = appOverFakes()
  let server: ServerType | undefined
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: fakes.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
  })
  const http = server as Server
  deferContinueToRoutes(http)
  return {
    port,
    fakes,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}
