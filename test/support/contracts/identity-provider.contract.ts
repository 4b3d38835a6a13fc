import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { DependencyUnavailableError } from '../../../src/deletion/errors.js'
import type { IdentityProvider } from '../../../src/deletion/ports.js'
import { contractCase, type ContractSubject, type SubjectFactory } from './contract-case.js'

/** An account as the identity provider holds it: whether it can sign in, and what identifies the person. */
export interface AccountView {
  enabled: boolean
  /** Email and names still held (blank ones do not count). */
  personalValues: string[]
}

/**
 * An IdentityProvider with the means to arrange accounts and sessions, to see them as the provider
 * holds them, and to put the provider (or the way to it) in the states the workflow must survive.
 */
export interface IdentityProviderSubject<Session = unknown> extends ContractSubject {
  identity: IdentityProvider
  /** Creates an enabled account with an email and names; answers its id. */
  createAccount(): Promise<string>
  /** Signs the account in. */
  signIn(userId: string): Promise<Session>
  /** Whether the session can still be used (a refresh would succeed). */
  isSignedIn(session: Session): Promise<boolean>
  /** The account as it stands, or undefined when there is none. */
  account(userId: string): Promise<AccountView | undefined>
  /** An administrator disables the account in the provider (outside any deletion). */
  disableByAdministrator(userId: string): Promise<void>
  /** From now on the provider refuses to remove this account (e.g. a read-only federated user). */
  refuseRemovalOf(userId: string): void
  /** The provider cannot be reached until `comeBack`. */
  goDown(): void
  /** The provider accepts calls but does not answer them until `comeBack`. */
  stall(): void
  comeBack(): void
  /** Lets the time bound of the calls in flight pass (a no-op where real time does it). */
  passTimeBound(): void
  /** The provider as seen with service credentials it refuses (e.g. a rotated client secret). */
  withRefusedCredentials(): IdentityProvider
}

/**
 * What the deletion workflow relies on from the IdentityProvider, run against the in-memory fake
 * (unit tier) and the Keycloak adapter over the project's real Keycloak (integration tier) alike.
 */
export function describeIdentityProviderContract<Session>(implementation: string, factory: SubjectFactory<IdentityProviderSubject<Session>>): void {
  const test = contractCase(factory)

  describe(`IdentityProvider contract: ${implementation}`, () => {
    test('when the account exists, then it is deleted: gone, and its sessions ended', async (s) => {
      const userId = await s.createAccount()
      const session = await s.signIn(userId)
      expect(await s.isSignedIn(session)).toBe(true)

      expect(await s.identity.eraseAccount(userId)).toBe('deleted')

      expect(await s.account(userId)).toBeUndefined()
      expect(await s.isSignedIn(session)).toBe(false)
    })

    test('when the account was erased already, then absent is answered (idempotent)', async (s) => {
      const userId = await s.createAccount()
      await s.identity.eraseAccount(userId)

      expect(await s.identity.eraseAccount(userId)).toBe('absent')
    })

    test('when there is no such account, then absent is answered', async (s) => {
      expect(await s.identity.eraseAccount(randomUUID())).toBe('absent')
    })

    test('when removal is refused, then the account is disabled, blanked and signed out, and a retry answers disabled again', async (s) => {
      const userId = await s.createAccount()
      const session = await s.signIn(userId)
      s.refuseRemovalOf(userId)

      expect(await s.identity.eraseAccount(userId)).toBe('disabled')

      expect(await s.account(userId)).toEqual({ enabled: false, personalValues: [] })
      expect(await s.isSignedIn(session)).toBe(false)
      expect(await s.identity.eraseAccount(userId)).toBe('disabled')
    })

    test('when the provider cannot be reached, then DependencyUnavailableError(keycloak) is thrown, the account is untouched, and it is deleted once the provider is back', async (s) => {
      const userId = await s.createAccount()
      const session = await s.signIn(userId)
      s.goDown()

      const error = await s.identity.eraseAccount(userId).catch((err: unknown) => err)

      expect(error).toBeInstanceOf(DependencyUnavailableError)
      expect(error).toMatchObject({ dependency: 'keycloak' })
      expect(await s.account(userId)).toMatchObject({ enabled: true })
      expect(await s.isSignedIn(session)).toBe(true)
      s.comeBack()
      expect(await s.identity.eraseAccount(userId)).toBe('deleted')
    })

    test('when the provider stops answering, then the call ends in DependencyUnavailableError(keycloak) once its time bound passes', async (s) => {
      const userId = await s.createAccount()
      s.stall()

      const erasing = s.identity.eraseAccount(userId).catch((err: unknown) => err)
      s.passTimeBound()
      const error = await erasing

      expect(error).toBeInstanceOf(DependencyUnavailableError)
      expect(error).toMatchObject({ dependency: 'keycloak' })
      s.comeBack()
      expect(await s.identity.eraseAccount(userId)).toBe('deleted')
    })

    test('when the provider refuses the service credentials, then the error is not "unavailable" (the step is refused, not retried as an outage), and the account is untouched', async (s) => {
      const userId = await s.createAccount()
      const session = await s.signIn(userId)

      const error = await s
        .withRefusedCredentials()
        .eraseAccount(userId)
        .catch((err: unknown) => err)

      expect(error).toBeInstanceOf(Error)
      expect(error).not.toBeInstanceOf(DependencyUnavailableError)
      expect(await s.account(userId)).toMatchObject({ enabled: true })
      expect(await s.isSignedIn(session)).toBe(true)
    })

    describe('a soft deletion and its cancel', () => {
      test('when the account is disabled, then its sessions end, it is kept with its details, and it is named as disabled by the call', async (s) => {
        const userId = await s.createAccount()
        const session = await s.signIn(userId)
        const told: string[] = []

        expect(await s.identity.disableAccount(userId, (accountId) => told.push(accountId))).toEqual({ outcome: 'disabled', disabled: [userId] })

        expect(told).toEqual([userId])
        expect(await s.isSignedIn(session)).toBe(false)
        const account = await s.account(userId)
        expect(account?.enabled).toBe(false)
        expect(account?.personalValues.length).toBeGreaterThan(0)
        // Idempotent: a second call finds it disabled already, and names nothing.
        expect(await s.identity.disableAccount(userId)).toEqual({ outcome: 'disabled', disabled: [] })
      })

      test('when the account was disabled by an administrator before, then disable signs it out and names no account as disabled by it', async (s) => {
        const userId = await s.createAccount()
        const session = await s.signIn(userId)
        await s.disableByAdministrator(userId)
        const told: string[] = []

        expect(await s.identity.disableAccount(userId, (accountId) => told.push(accountId))).toEqual({ outcome: 'disabled', disabled: [] })

        expect(told).toEqual([])
        expect(await s.isSignedIn(session)).toBe(false)
        expect(await s.account(userId)).toMatchObject({ enabled: false })
      })

      test('when enable names the accounts the disable named, then those are enabled; an account not named stays disabled', async (s) => {
        // Arrange: one account the deletion disabled, one an administrator had disabled.
        const ours = await s.createAccount()
        const administrators = await s.createAccount()
        await s.disableByAdministrator(administrators)
        const { disabled } = await s.identity.disableAccount(ours)

        // Act
        const enabled = await s.identity.enableAccount(ours, disabled)
        const notNamed = await s.identity.enableAccount(administrators, [])

        // Assert
        expect(enabled).toBe('enabled')
        expect(notNamed).toBe('absent')
        expect(await s.account(ours)).toMatchObject({ enabled: true })
        expect(await s.account(administrators)).toMatchObject({ enabled: false })
        expect(await s.isSignedIn(await s.signIn(ours))).toBe(true)
      })

      test('when the account named for enabling was removed since it was disabled, then enable answers absent', async (s) => {
        const userId = await s.createAccount()
        const { disabled } = await s.identity.disableAccount(userId)
        await s.identity.eraseAccount(userId)

        expect(await s.identity.enableAccount(userId, disabled)).toBe('absent')
      })

      test('when a disabled account is enabled, then it can sign in again', async (s) => {
        const userId = await s.createAccount()
        await s.identity.disableAccount(userId)

        expect(await s.identity.enableAccount(userId)).toBe('enabled')

        expect(await s.account(userId)).toMatchObject({ enabled: true })
        expect(await s.isSignedIn(await s.signIn(userId))).toBe(true)
      })

      test('when the accounts are listed, then each is named (as disable names it) with whether it is enabled, and listing changes nothing', async (s) => {
        const enabled = await s.createAccount()
        const administrators = await s.createAccount()
        await s.disableByAdministrator(administrators)
        const session = await s.signIn(enabled)

        expect(await s.identity.listAccounts(enabled)).toEqual([{ accountId: enabled, enabled: true }])
        expect(await s.identity.listAccounts(administrators)).toEqual([{ accountId: administrators, enabled: false }])

        expect(await s.isSignedIn(session)).toBe(true)
        const { disabled } = await s.identity.disableAccount(enabled)
        expect(disabled).toEqual([enabled])
        expect(await s.identity.listAccounts(enabled)).toEqual([{ accountId: enabled, enabled: false }])
      })

      test('when there is no such account, then disable and enable answer absent, read answers undefined and list answers none', async (s) => {
        const userId = randomUUID()

        expect(await s.identity.listAccounts(userId)).toEqual([])
        expect(await s.identity.disableAccount(userId)).toEqual({ outcome: 'absent', disabled: [] })
        expect(await s.identity.enableAccount(userId)).toBe('absent')
        expect(await s.identity.enableAccount(userId, [userId])).toBe('absent')
        expect(await s.identity.readAccount(userId)).toBeUndefined()
      })

      test('when the account is read, then its names, email, state, creation time, attributes and identity links come back', async (s) => {
        const userId = await s.createAccount()

        const account = await s.identity.readAccount(userId)

        expect(account).toMatchObject({ enabled: true, attributes: expect.any(Object), federatedIdentities: [] })
        expect(account?.email).toEqual(expect.any(String))
        expect(account?.created).toMatch(/^\d{4}-\d{2}-\d{2}T/)
      })

      test('when the provider cannot be reached, then disable, enable, read and list throw DependencyUnavailableError(keycloak)', async (s) => {
        const userId = await s.createAccount()
        s.goDown()

        for (const call of [() => s.identity.disableAccount(userId), () => s.identity.enableAccount(userId), () => s.identity.readAccount(userId), () => s.identity.listAccounts(userId)]) {
          expect(await call().catch((err: unknown) => err)).toBeInstanceOf(DependencyUnavailableError)
        }
        s.comeBack()
        expect(await s.account(userId)).toMatchObject({ enabled: true })
      })
    })
  })
}
