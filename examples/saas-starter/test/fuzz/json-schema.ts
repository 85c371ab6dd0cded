/** The subset of JSON Schema (2020-12, as @fastify/swagger emits it from zod) the fuzzer reads. */
export interface JsonSchema {
  $ref?: string
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  propertyNames?: JsonSchema
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

/** Replaces local `$ref`s (`#/components/schemas/X`) by their target, recursively. */
export function dereference(
  schema: JsonSchema,
  root: unknown,
  seen = new Set<string>(),
): JsonSchema {
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return {}
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root)
    return dereference((target ?? {}) as JsonSchema, root, new Set([...seen, schema.$ref]))
  }
  const out: JsonSchema = { ...schema }
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([key, value]) => [
        key,
        dereference(value, root, seen),
      ]),
    )
  }
  if (schema.items) out.items = dereference(schema.items, root, seen)
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = schema[key]
    if (list) out[key] = list.map((item) => dereference(item, root, seen))
  }
  if (typeof schema.additionalProperties === 'object') {
    out.additionalProperties = dereference(schema.additionalProperties, root, seen)
  }
  return out
}

/** The schema's types as a list (`type` may be a string, a list, or absent). */
export function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  return schema.type ? [schema.type] : []
}

/** The object alternative of a schema (a body `anyOf [object, null]` is fuzzed as the object). */
export function objectSchemaOf(schema: JsonSchema): JsonSchema | undefined {
  if (typesOf(schema).includes('object') || schema.properties) return schema
  for (const alternative of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    const found = objectSchemaOf(alternative)
    if (found) return found
  }
  return undefined
}
