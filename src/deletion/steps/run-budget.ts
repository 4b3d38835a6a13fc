import type { Clock } from '../ports.js'

/**
 * One step's time budget in one deletion run. The step runs once for the person and once per
 * managed user (managed-users.ts runs the person's steps again for each), all under the one lease
 * the run holds: the budget is started by the first of those runs and spent by all of them, so
 * together they stay within it rather than each within a budget of its own.
 */
export class RunBudget {
  private readonly stopAt: number
  private progressed = false

  constructor(
    private readonly clock: Clock,
    ms: number,
  ) {
    this.stopAt = clock.now().getTime() + ms
  }

  /** Whether the time is up. */
  spent(): boolean {
    return this.clock.now().getTime() >= this.stopAt
  }

  /** Something was done within this budget (by any of the step's runs): a run stopped at the budget still moved the deletion on. */
  madeProgress(): void {
    this.progressed = true
  }

  /** Whether some run of the step in this deletion run has done something (see madeProgress). */
  get hasProgressed(): boolean {
    return this.progressed
  }
}

/** The budgets of one deletion run, by step: each started when its step first asks for it (see RunBudget). */
export class RunBudgets {
  private readonly byStep = new Map<string, RunBudget>()

  constructor(private readonly clock: Clock) {}

  /** The step's budget in this run: `ms` from now when the step asks first, the same budget at every later ask. */
  of(step: string, ms: number): RunBudget {
    let budget = this.byStep.get(step)
    if (!budget) {
      budget = new RunBudget(this.clock, ms)
      this.byStep.set(step, budget)
    }
    return budget
  }
}
