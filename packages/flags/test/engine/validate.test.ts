import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  type FlagDefinition,
  type FlagDefinitionInput,
  flagDefinitionSchema,
} from '../../src/engine/definition.js'
import {
  prerequisiteCycle,
  problemsOfFlag,
  problemsOfSet,
  valueSchemaOf,
} from '../../src/engine/validate.js'

const flag = (input: FlagDefinitionInput): FlagDefinition => flagDefinitionSchema.parse(input)
const set = (...flags: FlagDefinition[]) => new Map(flags.map((item) => [item.key, item]))

describe('one flag', () => {
  it('refuses values that do not fit its type, wherever they are', () => {
    const problems = problemsOfFlag(
      flag({
        key: 'f',
        type: 'number',
        defaultValue: 'one',
        plans: { pro: true },
        rules: [
          { id: 'r', conditions: [{ attribute: 'a', operator: 'eq', values: ['x'] }], value: 2 },
        ],
        rollout: { percentage: 5, value: [1] },
      }),
    )
    expect(problems.map((problem) => problem.split(':')[0])).toEqual([
      'defaultValue',
      'plans.pro',
      'rollout.value',
    ])
  })

  it('a kill switch takes no plans, prerequisites, rules or rollout', () => {
    const problems = problemsOfFlag(
      flag({
        key: 'k',
        type: 'kill-switch',
        defaultValue: true,
        plans: { pro: false },
        rollout: { percentage: 5, value: false },
      }),
    )
    expect(problems).toEqual([
      'plans: a kill switch is only on or off',
      'rollout: a kill switch is only on or off',
    ])
  })

  it('json flags check every value against their JSON Schema', () => {
    const schema = z.toJSONSchema(
      z.object({ limit: z.number().int().max(100) }).strict(),
    ) as Record<string, unknown>
    const definition = flag({ key: 'limits', type: 'json', defaultValue: { limit: 10 }, schema })
    expect(problemsOfFlag(definition)).toEqual([])
    expect(valueSchemaOf(definition).safeParse({ limit: 101 }).success).toBe(false)
    expect(valueSchemaOf(definition).safeParse({ limit: 5, extra: 1 }).success).toBe(false)
    expect(problemsOfFlag({ ...definition, defaultValue: { limit: 'x' } })).toHaveLength(1)
  })

  it('refuses rule ids used twice, and a flag requiring itself', () => {
    const rule = {
      id: 'same',
      conditions: [{ attribute: 'a', operator: 'eq' as const, values: ['x'] }],
      value: true,
    }
    expect(
      problemsOfFlag(
        flag({
          key: 'f',
          type: 'boolean',
          defaultValue: false,
          rules: [rule, rule],
          prerequisites: [{ key: 'f', value: true }],
        }),
      ),
    ).toEqual(['rules: the id "same" is used twice', 'prerequisites: a flag cannot require itself'])
  })

  it('refuses malformed conditions at the schema', () => {
    const parse = (condition: unknown) =>
      flagDefinitionSchema.safeParse({
        key: 'f',
        type: 'boolean',
        defaultValue: false,
        rules: [{ id: 'r', conditions: [condition], value: true }],
      }).success
    expect(parse({ operator: 'in', values: ['x'] })).toBe(false)
    expect(parse({ attribute: 'a', operator: 'gt', values: [1, 2] })).toBe(false)
    expect(parse({ attribute: 'a', operator: 'regex', values: ['.*'] })).toBe(false)
    expect(parse({ operator: 'in_segment', values: ['Not A Key'] })).toBe(false)
    expect(parse({ attribute: 'a', operator: 'in', values: ['\u0000'] })).toBe(false)
    expect(parse({ attribute: 'a', operator: 'in', values: ['ok'] })).toBe(true)
  })
})

describe('flags together', () => {
  it('finds prerequisite cycles of any length, and refuses them', () => {
    const a = flag({
      key: 'a',
      type: 'boolean',
      defaultValue: false,
      prerequisites: [{ key: 'b', value: true }],
    })
    const b = flag({
      key: 'b',
      type: 'boolean',
      defaultValue: false,
      prerequisites: [{ key: 'c', value: true }],
    })
    const c = flag({
      key: 'c',
      type: 'boolean',
      defaultValue: false,
      prerequisites: [{ key: 'a', value: true }],
    })
    expect(prerequisiteCycle(set(a, b, c))).toEqual(['a', 'b', 'c', 'a'])
    expect(problemsOfSet(set(a, b, c), new Map())).toEqual([
      'prerequisites form a cycle: a → b → c → a',
    ])
    const free = flag({ key: 'c', type: 'boolean', defaultValue: false })
    expect(prerequisiteCycle(set(a, b, free))).toBeNull()
  })

  it('refuses unknown prerequisites, values a prerequisite never serves, unknown segments', () => {
    const a = flag({
      key: 'a',
      type: 'boolean',
      defaultValue: false,
      prerequisites: [
        { key: 'missing', value: true },
        { key: 'b', value: 'yes' },
      ],
      rules: [
        { id: 'r', conditions: [{ operator: 'in_segment', values: ['nobody'] }], value: true },
      ],
    })
    const b = flag({ key: 'b', type: 'boolean', defaultValue: false })
    expect(problemsOfSet(set(a, b), new Map())).toEqual([
      'a: prerequisite "missing" is not a flag',
      'a: prerequisite "b" never serves that value',
      'a: rule "r" names segment "nobody", which does not exist',
    ])
  })
})
