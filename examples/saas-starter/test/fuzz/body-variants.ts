/** Variants of the body: each field made hostile, broken JSON, wrong content types. */
import {
  HOSTILE_NUMBERS,
  HOSTILE_STRINGS,
  NESTINGS,
  nested,
  RAW_NUMBER_LITERALS,
  WRONG_TYPES,
} from './hostile-values.js'
import { type JsonSchema, objectSchemaOf, typesOf } from './json-schema.js'
import { isObject, JSON_TYPE, request, type Variant, type VariantInput } from './request.js'

const RAW_MARKER = '__fuzz_raw_value__'

/** The body with one property set to a raw JSON text (or removed, for `undefined`). */
function withRaw(base: unknown, key: string | undefined, raw: string | undefined): string {
  const object = isObject(base) ? { ...base } : {}
  if (key === undefined) return raw ?? JSON.stringify(object)
  if (raw === undefined) {
    delete object[key]
    return JSON.stringify(object)
  }
  object[key] = RAW_MARKER
  return JSON.stringify(object).replace(`"${RAW_MARKER}"`, raw)
}

export function fieldVariants(input: VariantInput, base: unknown): Variant[] {
  const schema = objectSchemaOf(input.operation.body ?? {})
  const properties = schema?.properties ?? {}
  const variants: Variant[] = []
  const field = (key: string, name: string, raw: string | undefined) =>
    variants.push(
      request(input, 'field', `${key}: ${name}`, base, { payload: withRaw(base, key, raw) }),
    )
  for (const [key, property] of Object.entries(properties)) {
    field(key, 'missing', undefined)
    for (const [name, value] of WRONG_TYPES) field(key, name, JSON.stringify(value))
    for (const [name, value] of lengthBoundaries(property)) field(key, name, JSON.stringify(value))
    for (const [name, value] of HOSTILE_STRINGS) field(key, name, JSON.stringify(value))
    if (isNumeric(property)) {
      for (const [name, value] of HOSTILE_NUMBERS) field(key, name, JSON.stringify(value))
    }
    for (const [name, literal] of RAW_NUMBER_LITERALS) field(key, name, literal)
    for (const [name, depth] of NESTINGS) field(key, name, JSON.stringify(nested(depth)))
    field(
      key,
      '__proto__ object',
      '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
    )
    const items = arrayItems(property)
    if (items) {
      const over = (property.maxItems ?? 100) + 1
      field(key, `${over} items (max + 1)`, JSON.stringify(Array(over).fill(sampleString(items))))
      field(key, '10,000 items', JSON.stringify(Array(10_000).fill('a')))
      field(key, 'item NUL char', JSON.stringify(['a\u0000b']))
      field(key, 'item lone surrogate', JSON.stringify(['x\ud800y']))
      field(key, 'item wrong type', JSON.stringify([{ x: 1 }]))
      field(key, 'item 1 MB', JSON.stringify(['a'.repeat(1_000_000)]))
    }
    if (isRecord(property)) {
      const many = Object.fromEntries(
        Array.from({ length: 10_000 }, (_, index) => [`k${index}`, index]),
      )
      field(key, '10,000 keys', JSON.stringify(many))
      field(key, 'key NUL char', JSON.stringify({ 'a\u0000b': 1 }))
      field(key, 'key lone surrogate', JSON.stringify({ 'x\ud800y': 1 }))
      field(key, 'value NUL char', JSON.stringify({ a: 'a\u0000b' }))
      field(key, 'value lone surrogate', JSON.stringify({ a: 'x\ud800y' }))
    }
  }
  return variants
}

function lengthBoundaries(schema: JsonSchema): Array<[string, string]> {
  const strings = stringSchemaOf(schema)
  if (!strings) return []
  const boundaries: Array<[string, string]> = []
  const { minLength, maxLength } = strings
  if (minLength !== undefined && minLength > 0) {
    boundaries.push([`length ${minLength - 1} (min - 1)`, 'a'.repeat(minLength - 1)])
    boundaries.push([`length ${minLength} (min)`, 'a'.repeat(minLength)])
  }
  if (maxLength !== undefined) {
    boundaries.push([`length ${maxLength} (max)`, 'a'.repeat(maxLength)])
    boundaries.push([`length ${maxLength + 1} (max + 1)`, 'a'.repeat(maxLength + 1)])
  }
  return boundaries
}

function alternativesOf(schema: JsonSchema): JsonSchema[] {
  return [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]
}

function stringSchemaOf(schema: JsonSchema): JsonSchema | undefined {
  return alternativesOf(schema).find((candidate) => typesOf(candidate).includes('string'))
}

function isNumeric(schema: JsonSchema): boolean {
  return alternativesOf(schema).some((candidate) =>
    typesOf(candidate).some((type) => type === 'number' || type === 'integer'),
  )
}

function arrayItems(schema: JsonSchema): JsonSchema | undefined {
  return alternativesOf(schema).find((candidate) => typesOf(candidate).includes('array'))?.items
}

function isRecord(schema: JsonSchema): boolean {
  return alternativesOf(schema).some(
    (candidate) => typesOf(candidate).includes('object') && !candidate.properties,
  )
}

function sampleString(schema: JsonSchema): string {
  return 'a'.repeat(Math.max(schema.minLength ?? 1, 1))
}

export function bodyVariants(input: VariantInput, base: unknown): Variant[] {
  const keys = isObject(base) ? Object.keys(base) : []
  const first = keys[0]
  const body = (name: string, payload: string | Buffer) =>
    request(input, 'body', name, base, { payload, headers: JSON_TYPE })
  const json = JSON.stringify(base ?? {})
  const inner = json.length > 2 ? json.slice(1, -1) : ''
  const withInner = (prefix: string) => `{${prefix}${inner ? `,${inner}` : ''}}`
  const variants = [
    body('extra field', withInner('"unexpectedField":1')),
    body('__proto__ key', withInner('"__proto__":{"admin":true}')),
    body('constructor.prototype key', withInner('"constructor":{"prototype":{"admin":true}}')),
    body('truncated JSON', json.slice(0, Math.max(1, Math.floor(json.length / 2)))),
    body('single-quoted JSON', json.replaceAll('"', "'")),
    body('trailing comma', withInner('"a":1,')),
    body('NaN literal', '{"a":NaN}'),
    body('empty body', ''),
    body(
      'oversize body (2 MB)',
      JSON.stringify({ ...(isObject(base) ? base : {}), pad: 'a'.repeat(2_000_000) }),
    ),
    body('nested 100 deep (past the limit)', JSON.stringify(nested(100))),
    body('nested 10,000 deep', `${'['.repeat(10_000)}${']'.repeat(10_000)}`),
    body(
      'non-UTF-8 bytes',
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    ),
  ]
  if (first !== undefined) {
    const value = JSON.stringify((base as Record<string, unknown>)[first])
    variants.push(
      body(
        'duplicate key (hostile second)',
        withInner(`"${first}":"a\\u0000b"`).replace(/^\{/, `{"${first}":${value},`),
      ),
    )
    variants.push(body('duplicate key (hostile first)', withInner(`"${first}":"x\\ud800y"`)))
  }
  if (input.operation.body) {
    variants.push(
      body('empty object', '{}'),
      body('array root', `[${json}]`),
      body('null root', 'null'),
      body('string root', '"x"'),
      body('number root', '1'),
      body('BOM before JSON', `\ufeff${json}`),
      body('nested 60 deep (under the limit)', JSON.stringify(nested(60))),
    )
  }
  return variants
}

export function contentTypeVariants(input: VariantInput, base: unknown): Variant[] {
  const json = JSON.stringify(base ?? {})
  const typed = (name: string, type: string | null, payload: string) =>
    request(input, 'content-type', name, base, { payload, headers: { 'content-type': type } })
  const variants = [
    typed('text/plain', 'text/plain', json),
    typed('form-urlencoded', 'application/x-www-form-urlencoded', 'a=b&__proto__[x]=1'),
    typed('multipart without boundary', 'multipart/form-data', json),
    typed(
      'application/xml',
      'application/xml',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    ),
    typed('JSON, charset utf-16', 'application/json; charset=utf-16', json),
    typed('no content type', null, json),
  ]
  if (input.operation.body) {
    variants.push(
      typed('JSON upper-cased', 'APPLICATION/JSON', json),
      typed('JSON, charset latin1', 'application/json; charset=latin1', json),
      typed('vendor +json', 'application/vnd.api+json', json),
      typed('malformed content type', 'application/json;;;===', json),
    )
  }
  return variants
}
