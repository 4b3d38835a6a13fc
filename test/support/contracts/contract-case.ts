import { it } from 'vitest'

/**
 * A port implementation under contract (the fake or the real adapter) with the test's own means to
 * arrange and observe it. `dispose` removes whatever the case left on a shared server.
 */
export interface ContractSubject {
  dispose?(): Promise<void>
}

export type SubjectFactory<S extends ContractSubject> = () => S | Promise<S>

/** `it` with a fresh subject per case, disposed afterwards whatever the outcome. */
export function contractCase<S extends ContractSubject>(factory: SubjectFactory<S>) {
  return (name: string, body: (subject: S) => Promise<void>, timeoutMs?: number) =>
    it(
      name,
      async () => {
        const subject = await factory()
        try {
          await body(subject)
        } finally {
          await subject.dispose?.()
        }
      },
      timeoutMs,
    )
}
