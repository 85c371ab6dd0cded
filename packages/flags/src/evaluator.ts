import type { EvaluationContext } from './engine/conditions.js'
import type { FlagValue } from './engine/definition.js'
import type { Evaluation } from './engine/snapshot.js'
import type { LiveFlags } from './store/live-flags.js'

/**
 * Evaluation against the snapshot this instance serves, no I/O: the reason is STALE while the
 * instance could not confirm its flags are current, and ERROR (`NOT_READY`) before the first
 * load, when the value is the default the code declared (or null).
 */
export class Evaluator {
  readonly #live: LiveFlags
  readonly #declaredDefaults: ReadonlyMap<string, FlagValue>

  constructor(live: LiveFlags, declaredDefaults: ReadonlyMap<string, FlagValue>) {
    this.#live = live
    this.#declaredDefaults = declaredDefaults
  }

  evaluate(key: string, context: EvaluationContext): Evaluation {
    const snapshot = this.#live.snapshot
    if (!snapshot) {
      return {
        key,
        value: this.#declaredDefaults.get(key) ?? null,
        variant: 'default',
        reason: 'ERROR',
        matched: 'ERROR',
        version: 0,
        errorCode: 'NOT_READY',
      }
    }
    const evaluation = snapshot.evaluate(key, context)
    if (this.#live.stale && evaluation.reason !== 'ERROR') evaluation.reason = 'STALE'
    return evaluation
  }

  isEnabled(key: string, context: EvaluationContext): boolean {
    const snapshot = this.#live.snapshot
    return snapshot?.isEnabled(key, context) === true
  }

  value(key: string, context: EvaluationContext): FlagValue {
    const snapshot = this.#live.snapshot
    if (!snapshot) return this.#declaredDefaults.get(key) ?? null
    const decision = snapshot.decide(key, context)
    return decision ? decision.value : null
  }
}
