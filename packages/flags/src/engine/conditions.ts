import type { Condition, SegmentDefinition } from './definition.js'
import { compareSemVer, parseSemVer, type SemVer } from './semver.js'

export type AttributeValue = string | number | boolean | readonly string[] | null | undefined

/**
 * Who a flag is evaluated for. `tenantId` and `plan` come first in this product (a request's are
 * filled from `request.tenant`); `attributes` carry anything rules compare (country, app
 * version, seats, signup date...).
 */
export interface EvaluationContext {
  tenantId?: string | null
  plan?: string | null
  userId?: string | null
  attributes?: Readonly<Record<string, AttributeValue>>
}

export type Predicate = (context: EvaluationContext) => boolean

/** The three first-class attributes, then the free ones. */
export function attributeOf(context: EvaluationContext, name: string): AttributeValue {
  switch (name) {
    case 'tenantId':
      return context.tenantId
    case 'plan':
      return context.plan
    case 'userId':
      return context.userId
    default:
      return context.attributes?.[name]
  }
}

const NEVER: Predicate = () => false

/**
 * A condition as a closure, built once per snapshot so evaluation parses nothing. A missing
 * attribute matches no condition (not even `not_in` / `neq`): a rule never targets someone for
 * lack of data.
 */
export function compileCondition(
  condition: Condition,
  segments: ReadonlyMap<string, Predicate>,
): Predicate {
  const { operator, values } = condition
  const name = condition.attribute ?? ''
  const first = values[0] as string | number
  switch (operator) {
    case 'in_segment':
    case 'not_in_segment': {
      const tests = values.map((key) => segments.get(String(key)) ?? NEVER)
      const inAny = (context: EvaluationContext) => tests.some((test) => test(context))
      return operator === 'in_segment' ? inAny : (context) => !inAny(context)
    }
    case 'in':
    case 'not_in': {
      const set = new Set(values.map(String))
      const member = operator === 'in'
      return (context) => {
        const value = attributeOf(context, name)
        if (value === undefined || value === null) return false
        const found = Array.isArray(value)
          ? value.some((item) => set.has(item))
          : set.has(String(value))
        return found === member
      }
    }
    case 'eq':
    case 'neq': {
      const expected = String(first)
      const equal = operator === 'eq'
      return (context) => {
        const value = attributeOf(context, name)
        if (value === undefined || value === null || Array.isArray(value)) return false
        return (String(value) === expected) === equal
      }
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return numeric(name, Number(first), operator)
    case 'before':
    case 'after': {
      const at = typeof first === 'number' ? first : Date.parse(first)
      if (Number.isNaN(at)) return NEVER
      return (context) => {
        const value = attributeOf(context, name)
        const time =
          typeof value === 'number'
            ? value
            : typeof value === 'string'
              ? Date.parse(value)
              : Number.NaN
        if (Number.isNaN(time)) return false
        return operator === 'before' ? time < at : time > at
      }
    }
    case 'semver_eq':
    case 'semver_lt':
    case 'semver_lte':
    case 'semver_gt':
    case 'semver_gte': {
      const expected = parseSemVer(String(first))
      if (!expected) return NEVER
      return semver(name, expected, operator)
    }
    case 'starts_with':
    case 'ends_with':
    case 'contains': {
      const needles = values.map(String)
      return (context) => {
        const value = attributeOf(context, name)
        if (typeof value !== 'string') return false
        if (operator === 'starts_with') return needles.some((needle) => value.startsWith(needle))
        if (operator === 'ends_with') return needles.some((needle) => value.endsWith(needle))
        return needles.some((needle) => value.includes(needle))
      }
    }
  }
}

function numeric(name: string, bound: number, operator: 'lt' | 'lte' | 'gt' | 'gte'): Predicate {
  return (context) => {
    const raw = attributeOf(context, name)
    if (raw === undefined || raw === null || typeof raw === 'boolean' || Array.isArray(raw)) {
      return false
    }
    const value = typeof raw === 'number' ? raw : Number(raw)
    if (Number.isNaN(value)) return false
    switch (operator) {
      case 'lt':
        return value < bound
      case 'lte':
        return value <= bound
      case 'gt':
        return value > bound
      case 'gte':
        return value >= bound
    }
  }
}

function semver(
  name: string,
  expected: SemVer,
  operator: 'semver_eq' | 'semver_lt' | 'semver_lte' | 'semver_gt' | 'semver_gte',
): Predicate {
  return (context) => {
    const raw = attributeOf(context, name)
    if (typeof raw !== 'string') return false
    const actual = parseSemVer(raw)
    if (!actual) return false
    const order = compareSemVer(actual, expected)
    switch (operator) {
      case 'semver_eq':
        return order === 0
      case 'semver_lt':
        return order < 0
      case 'semver_lte':
        return order <= 0
      case 'semver_gt':
        return order > 0
      case 'semver_gte':
        return order >= 0
    }
  }
}

/** All conditions hold. */
export function compileAll(
  conditions: readonly Condition[],
  segments: ReadonlyMap<string, Predicate>,
): Predicate {
  const tests = conditions.map((condition) => compileCondition(condition, segments))
  if (tests.length === 1) return tests[0] as Predicate
  return (context) => {
    for (const test of tests) if (!test(context)) return false
    return true
  }
}

/** Segments as predicates (their conditions name no other segment). */
export function compileSegments(
  segments: Iterable<SegmentDefinition>,
): ReadonlyMap<string, Predicate> {
  const none = new Map<string, Predicate>()
  const compiled = new Map<string, Predicate>()
  for (const segment of segments) {
    compiled.set(
      segment.key,
      segment.conditions.length === 0 ? NEVER : compileAll(segment.conditions, none),
    )
  }
  return compiled
}
