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
