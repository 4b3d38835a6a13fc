import { createServer, type AddressInfo, type Socket } from 'node:net'

/** How the stub answers one command (its words, the name upper-cased): raw RESP, or undefined never to answer it. */
export type RedisAnswer = (command: string[]) => string | undefined

/** What node-redis sends on every new connection before it is ready. */
const HANDSHAKE = new Set(['HELLO', 'SELECT', 'CLIENT', 'AUTH'])

/** Answers node-redis's connection handshake and nothing after it: a Redis that takes commands and never answers them. */
export const handshakeOnly: RedisAnswer = ([name]) => (name !== undefined && HANDSHAKE.has(name) ? '+OK\r\n' : undefined)

/** Answers nothing at all, not even the handshake: a Redis that accepts connections and is stuck. */
export const nothing: RedisAnswer = () => undefined

export interface StubRedis {
  host: string
  port: number
  /** Decides each answer; may be swapped while connections are open (a Redis that recovers). */
  answer: RedisAnswer
  /** Every command received, in order, on every connection. */
  commands: string[][]
  /** How many connections were accepted so far. */
  connections(): number
  /** Resolves once a command of that name (upper case) has arrived: await this instead of sleeping. */
  arrived(name: string): Promise<void>
  /** Cuts every connection and stops listening; safe to call twice. */
  close(): Promise<void>
}

/** Reads whole RESP arrays of bulk strings (what a client sends) from `buffer`; the rest waits for more bytes. */
function takeCommands(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = []
  let at = 0
  for (;;) {
    const parsed = takeCommand(buffer, at)
    if (!parsed) return { commands, rest: buffer.subarray(at) }
    commands.push(parsed.command)
    at = parsed.end
  }
}

function takeCommand(buffer: Buffer, start: number): { command: string[]; end: number } | undefined {
  const line = (from: number) => {
    const end = buffer.indexOf('\r\n', from)
    return end < 0 ? undefined : { text: buffer.toString('utf8', from, end), next: end + 2 }
  }
  const header = line(start)
  if (!header?.text.startsWith('*')) return undefined
  const command: string[] = []
  let at = header.next
  for (let i = 0; i < Number(header.text.slice(1)); i++) {
    const size = line(at)
    if (!size?.text.startsWith('$')) return undefined
    const length = Number(size.text.slice(1))
    if (buffer.length < size.next + length + 2) return undefined
    command.push(buffer.toString('utf8', size.next, size.next + length))
    at = size.next + length + 2
  }
  const [name, ...args] = command
  return { command: name === undefined ? command : [name.toUpperCase(), ...args], end: at }
}

/**
 * A Redis stand-in on 127.0.0.1 (port 0) for unit tests of the Redis adapter: it speaks just enough
 * RESP to read commands, and answers each as `answer` says, or never (a Redis that hangs).
 */
export async function startStubRedis(answer: RedisAnswer = handshakeOnly): Promise<StubRedis> {
  const sockets = new Set<Socket>()
  const commands: string[][] = []
  const waiting: { name: string; resolve: () => void }[] = []
  let accepted = 0
  let decide = answer
  const server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let pending: Buffer = Buffer.alloc(0)
    socket.on('data', (data: Buffer) => {
      const { commands: received, rest } = takeCommands(Buffer.concat([pending, data]))
      pending = rest
      for (const command of received) {
        commands.push(command)
        for (const waiter of waiting.filter((w) => w.name === command[0])) {
          waiting.splice(waiting.indexOf(waiter), 1)
          waiter.resolve()
        }
        const reply = decide(command)
        if (reply !== undefined) socket.write(reply)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  let closed: Promise<void> | undefined
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    get answer() {
      return decide
    },
    set answer(next: RedisAnswer) {
      decide = next
    },
    commands,
    connections: () => accepted,
    arrived: (name) => (commands.some(([seen]) => seen === name) ? Promise.resolve() : new Promise((resolve) => waiting.push({ name, resolve }))),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
      return closed
    },
  }
}
