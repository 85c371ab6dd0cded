import fc from 'fast-check'
import { type JsonSchema, typesOf } from './json-schema.js'

/** Longest string a valid sample carries when the schema allows more: keeps valid bodies small. */
const SAMPLE_MAX_LENGTH = 40

/**
 * A fast-check arbitrary producing values valid against the schema, for the keywords routes
 * here use (types, enum/const, anyOf/oneOf, properties/required/additionalProperties, items,
 * lengths, pattern, uuid/email/date-time formats, numeric bounds). `key` is the property name the
 * schema sits under: a string named like an email gets an address when the schema says no more.
 */
export function arbitraryFor(schema: JsonSchema, key = ''): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives && alternatives.length > 0) {
    return fc.oneof(...alternatives.map((alternative) => arbitraryFor(alternative, key)))
  }
  if (schema.allOf && schema.allOf.length > 0) {
    return arbitraryFor(Object.assign({}, ...schema.allOf) as JsonSchema, key)
  }
  const types = typesOf(schema)
  if (types.length > 1) {
    return fc.oneof(...types.map((type) => arbitraryFor({ ...schema, type }, key)))
  }
  switch (types[0] ?? (schema.properties ? 'object' : undefined)) {
    case 'string':
      return stringArbitrary(schema, key)
    case 'integer':
      return fc.integer(integerBounds(schema))
    case 'number':
      return fc.double({ ...numberBounds(schema), noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(arbitraryFor(schema.items ?? {}), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, Math.max(schema.minItems ?? 0, 3)),
      })
    case 'object':
      return objectArbitrary(schema)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

function objectArbitrary(schema: JsonSchema): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {}
  const keys = Object.keys(properties)
  if (keys.length === 0) {
    if (schema.additionalProperties === false) return fc.constant({})
    const values =
      typeof schema.additionalProperties === 'object'
        ? arbitraryFor(schema.additionalProperties)
        : fc.jsonValue({ maxDepth: 2 })
    return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 4 })
  }
  const model = Object.fromEntries(
    keys.map((key) => [key, arbitraryFor(properties[key] ?? {}, key)]),
  )
  return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in model) })
}

function stringArbitrary(schema: JsonSchema, key: string): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0
  const maxLength = schema.maxLength ?? Number.MAX_SAFE_INTEGER
  const fits = (value: string) => value.length >= minLength && value.length <= maxLength
  const matches = schema.pattern ? compilePattern(schema.pattern) : undefined
  const valid = (value: string) => fits(value) && (!matches || matches.test(value))

  if (schema.format === 'uuid') return fc.uuid().filter(valid)
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
      .map((date) => date.toISOString())
      .filter(valid)
  }
  if (matches) return fc.stringMatching(matches).filter(valid)
  if (schema.format === 'email' || /email/i.test(key)) {
    return fc.emailAddress().filter(valid)
  }
  const upper = Math.min(maxLength, Math.max(minLength, SAMPLE_MAX_LENGTH))
  return fc.oneof(
    fc.string({ minLength, maxLength: upper }),
    fc.string({ minLength, maxLength: upper, unit: 'grapheme' }),
  )
}

function compilePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u')
  } catch {
    return undefined
  }
}

function integerBounds(schema: JsonSchema): { min: number; max: number } {
  const { min, max } = numberBounds(schema)
  return {
    min: Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER),
    max: Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER),
  }
}

function numberBounds(schema: JsonSchema): { min: number; max: number } {
  const min =
    schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1e6)
  const max =
    schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 1e6)
  return { min: Math.max(min, -1e15), max: Math.min(max, 1e15) }
}
