import { describe, expect, it } from 'vitest'
import { signJwtText } from '../../scripts/lib/sign-jwt.js'
import { userDelete } from '../../src/http/operations/user-delete.js'
import { expectError } from '../support/assertions.js'
import { appOverFakes, FAKE_CONSUMER, FAKE_ISSUER } from '../support/fakes/app-over-fakes.js'

/**
 * The strict parsing rules seen from a Sunbird client: a correctly signed token that breaks one
 * of them, in any of the three credential headers, is answered 401 UOS_0070 like any malformed
 * token, and nothing is written. ME is both the caller and the target, so only the rule can refuse.
 */

const ME = '5a5e3b4e-1d6c-4c1a-9d2e-0a8f1c2b3d41'
const VICTIM = '0b1c2d3e-4f50-4617-8899-aabbccddeeff'
const now = () => Math.floor(Date.now() / 1000)

const fakes = appOverFakes({ seed: [{ id: ME }, { id: VICTIM, managedBy: ME }] })
const userHeader = `{"alg":"RS256","typ":"JWT","kid":${JSON.stringify(fakes.realm.kid)}}`
const userClaims = (sub: string, extra = '') => `{"iss":${JSON.stringify(FAKE_ISSUER)},"typ":"Bearer","iat":${now()},"exp":${now() + 600},"sub":${JSON.stringify(sub)}${extra}}`
const signUser = (header: string, payload: string) => signJwtText(header, payload, { rs256: fakes.realm.privateKey })
const bearerHeader = '{"alg":"HS256","typ":"JWT"}'
const bearerClaims = (extra = '') => `{"iss":${JSON.stringify(FAKE_CONSUMER.key)},"iat":${now()},"exp":${now() + 600}${extra}}`
const signBearer = (header: string, payload: string) => signJwtText(header, payload, { hs256: FAKE_CONSUMER.secret })

const attacks: { name: string; headers: () => Record<string, string>; target?: string }[] = [
  { name: 'user token: sub written twice', headers: () => ({ 'x-authenticated-user-token': signUser(userHeader, userClaims(ME, `,"sub":${JSON.stringify(VICTIM)}`)) }) },
  { name: 'user token: f:a:<attacker>:<victim>', headers: () => ({ 'x-authenticated-user-token': signUser(userHeader, userClaims(`f:a:${ME}:${VICTIM}`)) }), target: VICTIM },
  { name: 'user token: crit', headers: () => ({ 'x-authenticated-user-token': signUser(`${userHeader.slice(0, -1)},"crit":["exp"]}`, userClaims(ME)) }) },
  { name: 'user token: iat an hour ahead', headers: () => ({ 'x-authenticated-user-token': signUser(userHeader, userClaims(ME).replace(/"iat":\d+/, `"iat":${now() + 3600}`)) }) },
  { name: 'user token: nbf -1e400', headers: () => ({ 'x-authenticated-user-token': signUser(userHeader, userClaims(ME, ',"nbf":-1e400')) }) },
  { name: 'API bearer: crit', headers: () => ({ authorization: `Bearer ${signBearer('{"alg":"HS256","typ":"JWT","crit":["x"]}', bearerClaims())}` }) },
  { name: 'API bearer: iss written twice', headers: () => ({ authorization: `Bearer ${signBearer(bearerHeader, `{"iss":"other",${bearerClaims().slice(1)}`)}` }) },
  { name: 'API bearer: iat a day ahead', headers: () => ({ authorization: `Bearer ${signBearer(bearerHeader, bearerClaims().replace(/"iat":\d+/, `"iat":${now() + 86_400}`))}` }) },
  {
    name: 'X-Authenticated-For: parentId f:a:<x>:<caller> on the victim',
    headers: () => ({ 'x-authenticated-for': signUser(userHeader, userClaims(VICTIM, `,"parentId":${JSON.stringify(`f:a:someone:${ME}`)}`)) }),
    target: VICTIM,
  },
  {
    name: 'X-Authenticated-For: sub written twice',
    headers: () => ({ 'x-authenticated-for': signUser(userHeader, userClaims('someone-else', `,"sub":${JSON.stringify(VICTIM)},"parentId":${JSON.stringify(ME)}`)) }),
    target: VICTIM,
  },
]

describe('strictly parsed tokens through the app', () => {
  it.each(attacks)('when $name, then 401 UOS_0070 and nothing is written', async ({ headers, target }) => {
    const world = fakes.reset()
    const sound = { authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': fakes.userToken({ sub: ME }) }

    const response = await fakes.app.request(userDelete.paths[0], {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...sound, ...headers() },
      body: JSON.stringify({ request: { userId: target ?? ME } }),
    })

    await expectError(response, 'UNAUTHORIZED')
    expect(world.timeline.writes()).toEqual([])
  })

  it('when the same requests carry sound tokens, then the deletions go through (the attacks differ only in the rule)', async () => {
    fakes.reset()
    const self = await fakes.app.request(userDelete.paths[0], {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fakes.apiBearer}`, 'x-authenticated-user-token': signUser(userHeader, userClaims(ME)) },
      body: JSON.stringify({ request: { userId: ME } }),
    })
    fakes.reset()
    const managed = await fakes.app.request(userDelete.paths[0], {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${fakes.apiBearer}`,
        'x-authenticated-user-token': fakes.userToken({ sub: ME }),
        'x-authenticated-for': signUser(userHeader, userClaims(VICTIM, `,"parentId":${JSON.stringify(ME)}`)),
      },
      body: JSON.stringify({ request: { userId: VICTIM } }),
    })

    expect(self.status).toBe(200)
    expect(managed.status).toBe(200)
  })
})
