import {
  compileAll,
  compileSegments,
  type EvaluationContext,
  type Predicate,
} from './conditions.js'
import type { FlagDefinition, FlagValue, SegmentDefinition } from './definition.js'
import { BUCKETS, bucketOf } from './murmur.js'
import { offValueOf } from './validate.js'

/**
 * Why a flag has its value, first match wins in this order: `DISABLED` (the kill switch),
 * `PREREQUISITE_FAILED`, `PLAN`, `OVERRIDE` (the tenant's), `TARGETING_MATCH` (a rule), `SPLIT`
 * (the rollout), `DEFAULT`. `STALE`: this instance could not confirm its flags are current for
 * longer than the allowed age (the value is the last known one). `ERROR`: no such flag.
 */
export type EvaluationReason =
  | 'DISABLED'
  | 'PREREQUISITE_FAILED'
  | 'PLAN'
  | 'OVERRIDE'
  | 'TARGETING_MATCH'
  | 'SPLIT'
  | 'DEFAULT'
  | 'STALE'
  | 'ERROR'

/** What one layer decides; built once per snapshot, so a decision allocates nothing. */
export interface Decision {
  readonly value: FlagValue
  /** Which layer: `off`, `prerequisite:<key>`, `plan:<plan>`, `override`, `rule:<id>`, `rollout`, `default`. */
  readonly variant: string
  readonly reason: Exclude<EvaluationReason, 'STALE' | 'ERROR'>
}

export interface Evaluation {
  key: string
  /** null when the flag does not exist (reason ERROR). */
  value: FlagValue
  variant: string
  reason: EvaluationReason
  /** The layer that decided, even when `reason` is STALE. */
  matched: Decision['reason'] | 'ERROR'
  /** The configuration version the value comes from. */
  version: number
  /** FLAG_NOT_FOUND: no such flag; NOT_READY: nothing loaded yet. */
  errorCode?: 'FLAG_NOT_FOUND' | 'NOT_READY'
}

/** The entitlements a plan grants (tenancy's plan catalogue), read once per plan and snapshot. */
export type EntitlementsOf = (plan: string) => readonly string[]

export interface TenantOverride {
  flagKey: string
  tenantId: string
  value: FlagValue
}

export interface SnapshotInput {
  version: number
  flags: readonly FlagDefinition[]
  segments: readonly SegmentDefinition[]
  overrides: readonly TenantOverride[]
  entitlements: EntitlementsOf
}

const MAX_MEMOIZED_PLANS = 1_000

interface CompiledRule {
  readonly test: Predicate
  readonly decision: Decision
}

interface CompiledFlag {
  readonly definition: FlagDefinition
  readonly off: Decision
  /** Plan name → its decision (null: the plan neither grants nor sets the flag), memoized. */
  readonly byPlan: Map<string, Decision | null>
  /** The entitlement that turns the flag on, or null. */
  readonly entitlement: string | null
  readonly overrides: Map<string, Decision>
  readonly prerequisites: readonly { key: string; value: FlagValue; failed: Decision }[]
  readonly rules: readonly CompiledRule[]
  readonly rollout: {
    readonly threshold: number
    readonly stickiness: 'tenant' | 'user'
    readonly seed: string
    readonly decision: Decision
  } | null
  readonly fallback: Decision
}

/** One step of an explanation: what a layer did for this context. */
export interface ExplainStep {
  layer: 'kill-switch' | 'prerequisite' | 'plan' | 'override' | 'rule' | 'rollout' | 'default'
  outcome: 'matched' | 'passed' | 'not-applicable'
  detail: string
}

/**
 * Every flag of one environment at one version, compiled for evaluation without I/O: conditions
 * are closures, each layer's outcome a prebuilt decision, overrides a map by tenant. Immutable:
 * a change builds a new snapshot and swaps it in.
 */
export class FlagSnapshot {
  readonly version: number
  readonly #flags = new Map<string, CompiledFlag>()
  readonly #segments: ReadonlyMap<string, SegmentDefinition>
  readonly #entitlements: EntitlementsOf

  constructor(input: SnapshotInput) {
    this.version = input.version
    this.#entitlements = input.entitlements
    this.#segments = new Map(input.segments.map((segment) => [segment.key, segment]))
    const segments = compileSegments(input.segments)
    for (const definition of input.flags) {
      this.#flags.set(definition.key, compileFlag(definition, segments))
    }
    for (const override of input.overrides) {
      const flag = this.#flags.get(override.flagKey)
      if (!flag) continue
      flag.overrides.set(override.tenantId, {
        value: override.value,
        variant: 'override',
        reason: 'OVERRIDE',
      })
    }
  }

  static empty(version = 0): FlagSnapshot {
    return new FlagSnapshot({
      version,
      flags: [],
      segments: [],
      overrides: [],
      entitlements: () => [],
    })
  }

  has(key: string): boolean {
    return this.#flags.has(key)
  }

  definition(key: string): FlagDefinition | undefined {
    return this.#flags.get(key)?.definition
  }

  definitions(): FlagDefinition[] {
    return [...this.#flags.values()].map((flag) => flag.definition)
  }

  segments(): SegmentDefinition[] {
    return [...this.#segments.values()]
  }

  /** The tenant's override of a flag, if any. */
  override(key: string, tenantId: string): FlagValue | undefined {
    return this.#flags.get(key)?.overrides.get(tenantId)?.value
  }

  overrides(key: string): TenantOverride[] {
    const flag = this.#flags.get(key)
    if (!flag) return []
    return [...flag.overrides].map(([tenantId, decision]) => ({
      flagKey: key,
      tenantId,
      value: decision.value,
    }))
  }

  /** The layer that decides, or null for an unknown flag. Allocates nothing. */
  decide(key: string, context: EvaluationContext): Decision | null {
    const flag = this.#flags.get(key)
    return flag ? this.#decide(flag, context) : null
  }

  /** Whether a boolean flag is on (an unknown or non-boolean flag is off). */
  isEnabled(key: string, context: EvaluationContext): boolean {
    const flag = this.#flags.get(key)
    return flag !== undefined && this.#decide(flag, context).value === true
  }

  evaluate(key: string, context: EvaluationContext): Evaluation {
    const flag = this.#flags.get(key)
    if (!flag) {
      return {
        key,
        value: null,
        variant: 'unknown',
        reason: 'ERROR',
        matched: 'ERROR',
        version: this.version,
        errorCode: 'FLAG_NOT_FOUND',
      }
    }
    const decision = this.#decide(flag, context)
    return {
      key,
      value: decision.value,
      variant: decision.variant,
      reason: decision.reason,
      matched: decision.reason,
      version: this.version,
    }
  }

  #decide(flag: CompiledFlag, context: EvaluationContext): Decision {
    const { definition } = flag
    if (!definition.enabled) return flag.off
    if (definition.type === 'kill-switch') return flag.fallback
    for (const prerequisite of flag.prerequisites) {
      const required = this.#flags.get(prerequisite.key)
      if (!required || !sameValue(this.#decide(required, context).value, prerequisite.value)) {
        return prerequisite.failed
      }
    }
    const plan = context.plan
    if (plan) {
      const decision = this.#planDecision(flag, plan)
      if (decision) return decision
    }
    const tenantId = context.tenantId
    if (tenantId) {
      const decision = flag.overrides.get(tenantId)
      if (decision) return decision
    }
    for (const rule of flag.rules) if (rule.test(context)) return rule.decision
    const rollout = flag.rollout
    if (rollout) {
      const unit = rollout.stickiness === 'tenant' ? tenantId : context.userId
      if (unit && bucketOf(definition.key, rollout.seed, unit) < rollout.threshold) {
        return rollout.decision
      }
    }
    return flag.fallback
  }

  /**
   * The plan's decision: a value the flag sets for it, else `true` when the plan's entitlements
   * include the flag's. Memoized per flag and plan (bounded: plan names are few, but a caller may
   * pass anything).
   */
  #planDecision(flag: CompiledFlag, plan: string): Decision | null {
    const known = flag.byPlan.get(plan)
    if (known !== undefined) return known
    const granted =
      flag.entitlement !== null && this.#entitlements(plan).includes(flag.entitlement)
        ? ({ value: true, variant: `plan:${plan}`, reason: 'PLAN' } as const)
        : null
    if (flag.byPlan.size < MAX_MEMOIZED_PLANS) flag.byPlan.set(plan, granted)
    return granted
  }

  /** Every layer in order, with what it did for this context: the explain endpoint's answer. */
  explain(
    key: string,
    context: EvaluationContext,
  ): { evaluation: Evaluation; steps: ExplainStep[] } {
    const evaluation = this.evaluate(key, context)
    const flag = this.#flags.get(key)
    const steps: ExplainStep[] = []
    if (!flag) return { evaluation, steps }
    const { definition } = flag
    const done = (step: ExplainStep) => {
      steps.push(step)
      return { evaluation, steps }
    }
    if (!definition.enabled) {
      return done({ layer: 'kill-switch', outcome: 'matched', detail: 'the flag is switched off' })
    }
    steps.push({ layer: 'kill-switch', outcome: 'passed', detail: 'the flag is on' })
    if (definition.type === 'kill-switch') {
      return done({
        layer: 'default',
        outcome: 'matched',
        detail: 'a kill switch has no other layer',
      })
    }
    for (const prerequisite of flag.prerequisites) {
      const required = this.#flags.get(prerequisite.key)
      const value = required ? this.#decide(required, context).value : undefined
      if (!required || !sameValue(value, prerequisite.value)) {
        return done({
          layer: 'prerequisite',
          outcome: 'matched',
          detail: `"${prerequisite.key}" serves ${JSON.stringify(value ?? null)}, not ${JSON.stringify(prerequisite.value)}`,
        })
      }
      steps.push({
        layer: 'prerequisite',
        outcome: 'passed',
        detail: `"${prerequisite.key}" holds`,
      })
    }
    const planDecision = context.plan ? this.#planDecision(flag, context.plan) : null
    if (planDecision) {
      return done({
        layer: 'plan',
        outcome: 'matched',
        detail: `plan "${context.plan}" sets the value`,
      })
    }
    steps.push({
      layer: 'plan',
      outcome: context.plan ? 'passed' : 'not-applicable',
      detail: context.plan
        ? `plan "${context.plan}" neither grants nor sets it`
        : 'no plan in the context',
    })
    const override = context.tenantId ? flag.overrides.get(context.tenantId) : undefined
    if (override)
      return done({ layer: 'override', outcome: 'matched', detail: 'the tenant has an override' })
    steps.push({
      layer: 'override',
      outcome: context.tenantId ? 'passed' : 'not-applicable',
      detail: context.tenantId ? 'the tenant has no override' : 'no tenant in the context',
    })
    for (const rule of flag.rules) {
      if (rule.test(context)) {
        return done({
          layer: 'rule',
          outcome: 'matched',
          detail: `rule "${rule.decision.variant.slice(5)}" holds`,
        })
      }
      steps.push({
        layer: 'rule',
        outcome: 'passed',
        detail: `rule "${rule.decision.variant.slice(5)}" does not hold`,
      })
    }
    const rollout = flag.rollout
    if (rollout) {
      const unit = rollout.stickiness === 'tenant' ? context.tenantId : context.userId
      if (!unit) {
        steps.push({
          layer: 'rollout',
          outcome: 'not-applicable',
          detail: `no ${rollout.stickiness} in the context`,
        })
      } else {
        const bucket = bucketOf(definition.key, rollout.seed, unit)
        const detail = `bucket ${bucket} of ${BUCKETS}, rollout below ${rollout.threshold}`
        if (bucket < rollout.threshold)
          return done({ layer: 'rollout', outcome: 'matched', detail })
        steps.push({ layer: 'rollout', outcome: 'passed', detail })
      }
    }
    return done({ layer: 'default', outcome: 'matched', detail: 'nothing else matched' })
  }
}

function compileFlag(
  definition: FlagDefinition,
  segments: ReadonlyMap<string, Predicate>,
): CompiledFlag {
  const off: Decision = { value: offValueOf(definition), variant: 'off', reason: 'DISABLED' }
  const byPlan = new Map<string, Decision | null>()
  // A value set for the plan on the flag wins over the catalogue's entitlement.
  for (const [plan, value] of Object.entries(definition.plans)) {
    byPlan.set(plan, { value, variant: `plan:${plan}`, reason: 'PLAN' })
  }
  const entitlement = definition.entitlement === undefined ? definition.key : definition.entitlement
  return {
    definition,
    off,
    byPlan,
    entitlement: definition.type === 'boolean' ? entitlement : null,
    overrides: new Map(),
    prerequisites: definition.prerequisites.map((prerequisite) => ({
      key: prerequisite.key,
      value: prerequisite.value,
      failed: {
        value: off.value,
        variant: `prerequisite:${prerequisite.key}`,
        reason: 'PREREQUISITE_FAILED',
      },
    })),
    rules: definition.rules.map((rule) => ({
      test: compileAll(rule.conditions, segments),
      decision: { value: rule.value, variant: `rule:${rule.id}`, reason: 'TARGETING_MATCH' },
    })),
    rollout: definition.rollout
      ? {
          threshold: Math.round(definition.rollout.percentage * 100),
          stickiness: definition.rollout.stickiness,
          seed: definition.rollout.seed,
          decision: { value: definition.rollout.value, variant: 'rollout', reason: 'SPLIT' },
        }
      : null,
    fallback: {
      value: definition.type === 'kill-switch' ? true : definition.defaultValue,
      variant: 'default',
      reason: 'DEFAULT',
    },
  }
}

/** JSON equality: what a prerequisite compares. */
export function sameValue(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  return JSON.stringify(a) === JSON.stringify(b)
}
