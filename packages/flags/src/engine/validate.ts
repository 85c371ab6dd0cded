import { safeJson, safeString } from '@acme/core'
import { z } from 'zod'
import type { FlagDefinition, FlagValue, SegmentDefinition } from './definition.js'

/** The schema every value of a flag must satisfy, from its type (and JSON Schema for `json`). */
export function valueSchemaOf(definition: Pick<FlagDefinition, 'type' | 'schema'>): z.ZodType {
  switch (definition.type) {
    case 'boolean':
    case 'kill-switch':
      return z.boolean()
    case 'string':
      return safeString().max(1_000)
    case 'number':
      return z.number().finite()
    case 'json':
      return definition.schema ? jsonSchemaValidator(definition.schema) : safeJson()
  }
}

function jsonSchemaValidator(schema: Record<string, unknown>): z.ZodType {
  // The stored values are JSON either way; the flag's own schema narrows them. A pipe, not an
  // intersection: an intersection lets through keys one side strips and the other allows.
  return safeJson().pipe(z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]))
}

/** The value a flag serves when off: `offValue`, else false for booleans, else its default. */
export function offValueOf(definition: FlagDefinition): FlagValue {
  if (definition.offValue !== undefined) return definition.offValue
  return definition.type === 'boolean' || definition.type === 'kill-switch'
    ? false
    : definition.defaultValue
}

/**
 * What is wrong with one flag on its own: values that do not fit its type, duplicate rule ids, and
 * for a kill switch anything beyond on and off. Empty when it is sound.
 */
export function problemsOfFlag(definition: FlagDefinition): string[] {
  const problems: string[] = []
  let values: z.ZodType
  try {
    values = valueSchemaOf(definition)
  } catch {
    return ['schema: not a JSON Schema this server can check values against']
  }
  const check = (where: string, value: FlagValue | undefined) => {
    if (value === undefined) return
    const result = values.safeParse(value)
    if (!result.success) {
      problems.push(
        `${where}: ${result.error.issues[0]?.message ?? 'invalid'} for a ${definition.type} flag`,
      )
    }
  }
  check('defaultValue', definition.defaultValue)
  check('offValue', definition.offValue)
  for (const [plan, value] of Object.entries(definition.plans)) check(`plans.${plan}`, value)
  for (const [index, rule] of definition.rules.entries()) check(`rules[${index}].value`, rule.value)
  if (definition.rollout) check('rollout.value', definition.rollout.value)
  const ids = new Set<string>()
  for (const rule of definition.rules) {
    if (ids.has(rule.id)) problems.push(`rules: the id "${rule.id}" is used twice`)
    ids.add(rule.id)
  }
  if (definition.schema !== undefined && definition.type !== 'json') {
    problems.push('schema: only json flags take a JSON Schema')
  }
  if (definition.type === 'kill-switch') {
    const extras = [
      Object.keys(definition.plans).length > 0 && 'plans',
      definition.prerequisites.length > 0 && 'prerequisites',
      definition.rules.length > 0 && 'rules',
      definition.rollout !== null && 'rollout',
    ].filter((extra): extra is string => extra !== false)
    for (const extra of extras) problems.push(`${extra}: a kill switch is only on or off`)
  }
  if (definition.prerequisites.some((prerequisite) => prerequisite.key === definition.key)) {
    problems.push('prerequisites: a flag cannot require itself')
  }
  return problems
}

/**
 * What is wrong across flags and segments: unknown prerequisites, prerequisite values of the wrong
 * type, prerequisite cycles, unknown segments. Checked before any change is stored, so a snapshot
 * never holds a cycle.
 */
export function problemsOfSet(
  flags: ReadonlyMap<string, FlagDefinition>,
  segments: ReadonlyMap<string, SegmentDefinition>,
): string[] {
  const problems: string[] = []
  for (const flag of flags.values()) {
    for (const prerequisite of flag.prerequisites) {
      const required = flags.get(prerequisite.key)
      if (!required) {
        problems.push(`${flag.key}: prerequisite "${prerequisite.key}" is not a flag`)
      } else if (!valueSchemaOf(required).safeParse(prerequisite.value).success) {
        problems.push(`${flag.key}: prerequisite "${prerequisite.key}" never serves that value`)
      }
    }
    for (const rule of flag.rules) {
      for (const condition of rule.conditions) {
        if (condition.operator !== 'in_segment' && condition.operator !== 'not_in_segment') continue
        for (const key of condition.values) {
          if (!segments.has(String(key))) {
            problems.push(
              `${flag.key}: rule "${rule.id}" names segment "${key}", which does not exist`,
            )
          }
        }
      }
    }
  }
  const cycle = prerequisiteCycle(flags)
  if (cycle) problems.push(`prerequisites form a cycle: ${cycle.join(' → ')}`)
  return problems
}

/** A cycle among prerequisites (its keys, first repeated last), or null. */
export function prerequisiteCycle(flags: ReadonlyMap<string, FlagDefinition>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (key: string): string[] | null => {
    const seen = state.get(key)
    if (seen === 'done') return null
    if (seen === 'visiting') return [...path.slice(path.indexOf(key)), key]
    state.set(key, 'visiting')
    path.push(key)
    for (const prerequisite of flags.get(key)?.prerequisites ?? []) {
      const cycle = visit(prerequisite.key)
      if (cycle) return cycle
    }
    path.pop()
    state.set(key, 'done')
    return null
  }
  for (const key of flags.keys()) {
    const cycle = visit(key)
    if (cycle) return cycle
  }
  return null
}
