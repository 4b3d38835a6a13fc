// Baseline A: a bare Hono app on @hono/node-server, in its own process, answering the service's
// success envelope from memory for POST /api/user/v1/delete. No middleware, no body reading, no
// auth, no logging: the ceiling for this framework on this machine at this moment.
//   PORT=… node bench/baseline-a-server.mjs
// Plain JavaScript (no transpiler), like the built service it is compared with.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const envelope = {
  id: 'api.user.delete',
  ver: 'v1',
  ts: '2026-11-24 10:08:56:812+0000',
  params: { resmsgid: 'e413d019-f31b-4cb2-9d37-36b7054f1fd6', msgid: 'e413d019-f31b-4cb2-9d37-36b7054f1fd6', err: null, status: 'SUCCESS', errmsg: null },
  responseCode: 'OK',
  result: { response: 'SUCCESS' },
}

const app = new Hono()
app.post('/api/user/v1/delete', (c) => c.json(envelope))
app.get('/health', (c) => c.text('ok'))

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ msg: 'listening', port: info.port }))
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
