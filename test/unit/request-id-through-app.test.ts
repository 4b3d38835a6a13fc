import { describe, expect, it } from 'vitest'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { appOverFakes } from '../support/fakes/app-over-fakes.js'

/**
 * Whose a deletion request's id is, as the routes tell the store: the caller's own X-Request-Id or
 * X-msgId is created with the compare-and-set (another call may name it too); the UUID the service
 * generated when neither was sent is created with a plain write.
 */

const ME = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const fakes = appOverFakes({ seed: [{ id: ME }] })

async function deleteMyself(extraHeaders: Record<string, string>) {
  const world = fakes.reset()
  const response = await fakes.app.request(userDelete.paths[0], {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: ME }), ...extraHeaders },
    body: JSON.stringify({ request: { userId: ME } }),
  })
  const body = (await response.json()) as { params: { msgid: string } }
  return { status: response.status, msgid: body.params.msgid, created: world.requests.created.map(({ request, idChosenBy }) => ({ id: request.id, idChosenBy })) }
}

describe('the request id a deletion is created under', () => {
  it('when the caller sends no request id, then the request is created under the generated msgid as the service’s id', async () => {
    const { status, msgid, created } = await deleteMyself({})

    expect(status).toBe(200)
    expect(created).toEqual([{ id: msgid, idChosenBy: 'service' }])
  })

  it.each([
    ['X-Request-Id', { 'x-request-id': 'caller-request-1' }, 'caller-request-1'],
    ['X-msgId', { 'x-msgid': 'caller-msg-1' }, 'caller-msg-1'],
  ])('when the caller sends its own %s, then the request is created under it as the caller’s id', async (_header, headers, id) => {
    const { status, msgid, created } = await deleteMyself(headers)

    expect(status).toBe(200)
    expect(msgid).toBe(id)
    expect(created).toEqual([{ id, idChosenBy: 'caller' }])
  })
})

describe('the request id a REST route answers in X-Request-Id', () => {
  const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

  async function deleteMyselfOnSeed000(headers: Record<string, string>) {
    fakes.reset()
    const response = await fakes.app.request(`/api/users/${ME}/`, { method: 'DELETE', headers: { authorization: `Bearer ${fakes.userToken({ sub: ME })}`, ...headers } })
    return { status: response.status, requestId: response.headers.get('x-request-id') }
  }

  it('when X-Request-Id holds a space, then it is passed over for the caller’s X-msgId, as on the Sunbird route', async () => {
    const answer = await deleteMyselfOnSeed000({ 'x-request-id': 'caller request', 'x-msgid': 'caller-msg-2' })

    expect(answer).toEqual({ status: 204, requestId: 'caller-msg-2' })
  })

  it('when X-Request-Id is 256 characters long and no X-msgId is sent, then a fresh UUID is answered, never the value sent', async () => {
    const answer = await deleteMyselfOnSeed000({ 'x-request-id': 'a'.repeat(256) })

    expect(answer.status).toBe(204)
    expect(answer.requestId).toMatch(UUID_V4)
  })
})
