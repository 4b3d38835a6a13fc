import { describe, expect, it, vi } from 'vitest'
import { appOverFakes } from '../../../test/support/fakes/app-over-fakes.js'
import { deleteAccount } from '../../deletion/delete-account.js'
import { userDeleteCancel } from './user-delete-cancel.js'

const TARGET = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
// The request deadline; the cancel answers 250 ms (the app's margin) before it once past its point of no return.
const DEADLINE_MS = 2000

describe('POST /api/user/v1/delete/cancel against the request deadline', () => {
  it('when the deadline passes once the restore has begun (Keycloak slow), then the answer is 200 SUCCESS, not 503; the cancel completes and a retry with the same Idempotency-Key replays the 200', async () => {
    // Arrange: a soft-deleted user; Keycloak holds the account's enabling until the test lets it go.
    const fakes = appOverFakes({ seed: [{ id: TARGET, rootOrgId: 'org-1', organisationIds: ['org-1'] }] }, { requestTimeoutMs: DEADLINE_MS })
    const w = fakes.world
    await deleteAccount(w.deps, { requestId: 'soft-1', userId: TARGET, caller: { consumer: 'portal', userId: TARGET, roles: [] }, mode: 'soft' })
    let letGo!: () => void
    const keycloak = new Promise<void>((resolve) => {
      letGo = resolve
    })
    const enable = w.identity.enableAccount.bind(w.identity)
    w.identity.enableAccount = async (userId) => {
      await keycloak
      return enable(userId)
    }
    const cancel = () =>
      fakes.app.request(userDeleteCancel.paths[0], {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${fakes.apiBearer}`,
          'x-authenticated-user-token': fakes.userToken({ sub: TARGET }),
          'idempotency-key': 'cancel-1',
        },
        body: JSON.stringify({ request: { userId: TARGET } }),
      })

    // Act
    const response = await cancel()

    // Assert
    const body = (await response.json()) as { params: { err: string | null; status: string }; result: unknown }
    expect([response.status, body.params, body.result]).toEqual([200, expect.objectContaining({ err: null, status: 'SUCCESS' }), { response: 'SUCCESS' }])
    expect(w.requests.all()[0]?.state).toBe('cancelling')
    letGo()
    await vi.waitFor(() => expect(w.requests.all()[0]?.state).toBe('cancelled'))
    expect(w.users.snapshot(TARGET)).toMatchObject({ status: 1, isDeleted: false })
    const retry = await cancel()
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true'])
  })
})
