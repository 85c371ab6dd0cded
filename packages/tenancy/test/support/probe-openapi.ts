import { randomUUID } from 'node:crypto'

/** The part of JSON Schema (as @fastify/swagger emits it from zod) the probe reads. */
export interface JsonSchema {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  minItems?: number
  minLength?: number
  maxLength?: number
  minimum?: number
  exclusiveMinimum?: number
  maximum?: number
  format?: string
  pattern?: string
  enum?: unknown[]
  const?: unknown
  examples?: unknown[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
}

export interface OpenApiParameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: JsonSchema
}

interface MediaType {
  schema?: JsonSchema
}

export interface OpenApiOperation {
  parameters?: OpenApiParameter[]
  requestBody?: { required?: boolean; content?: Record<string, MediaType> }
  responses?: Record<string, { content?: Record<string, MediaType> }>
}

export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, unknown>>
  components?: { schemas?: Record<string, JsonSchema> }
}

export const HTTP_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const
export type HttpMethod = (typeof HTTP_METHODS)[number]

export interface Operation {
  method: HttpMethod
  /** The OpenAPI path template, e.g. `/tenants/{tenantId}/members/{userId}`. */
  path: string
  /** `{name}`s of the template, in order. */
  pathParams: string[]
  /** Declared parameters (path item's and operation's), by `in:name`. */
  parameters: Map<string, OpenApiParameter>
  operation: OpenApiOperation
}

export const label = (op: Pick<Operation, 'method' | 'path'>) => `${op.method} ${op.path}`

/** Every operation of the document, in document order. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    const shared = (item.parameters as OpenApiParameter[] | undefined) ?? []
    for (const method of HTTP_METHODS) {
      const operation = item[method.toLowerCase()] as OpenApiOperation | undefined
      if (!operation) continue
      const parameters = new Map<string, OpenApiParameter>()
      for (const parameter of [...shared, ...(operation.parameters ?? [])]) {
        parameters.set(`${parameter.in}:${parameter.name}`, parameter)
      }
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '')
      operations.push({ method, path, pathParams, parameters, operation })
    }
  }
  return operations
}

/** The template with each `{name}` replaced by `values[name]`; a missing value throws. */
export function fillPath(path: string, values: Readonly<Record<string, string>>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`no value for {${name}} in ${path}`)
    return encodeURIComponent(value)
  })
}

function jsonContent(content: Record<string, MediaType> | undefined): JsonSchema | undefined {
  if (!content) return undefined
  const entry = Object.entries(content).find(([type]) => /json/i.test(type))
  return entry?.[1].schema
}

/** The JSON schema of the request body, if the operation takes one. */
export function requestSchemaOf(op: Operation): JsonSchema | undefined {
  return jsonContent(op.operation.requestBody?.content)
}

/** The JSON schema of the 200 response, if any. */
export function okSchemaOf(op: Operation): JsonSchema | undefined {
  return jsonContent(op.operation.responses?.['200']?.content)
}

/** A list route: a GET whose 200 body is an object with an `items` array. */
export function isListOperation(op: Operation, document: OpenApiDocument): boolean {
  if (op.method !== 'GET') return false
  const schema = okSchemaOf(op)
  if (!schema) return false
  const items = resolve(schema, document).properties?.items
  return items !== undefined && typesOf(resolve(items, document)).includes('array')
}

function resolve(schema: JsonSchema, document: OpenApiDocument): JsonSchema {
  let current = schema
  for (let depth = 0; current.$ref && depth < 20; depth++) {
    const name = current.$ref.replace(/^#\/components\/schemas\//, '')
    const target = document.components?.schemas?.[name]
    if (!target) throw new Error(`unresolvable $ref ${current.$ref}`)
    current = target
  }
  return current
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  if (schema.type) return [schema.type]
  if (schema.properties) return ['object']
  if (schema.items) return ['array']
  return []
}

export class UnsupportedSchema extends Error {}

const FUTURE = () => new Date(Date.now() + 30 * 86_400_000)

function stringCandidates(schema: JsonSchema): string[] {
  switch (schema.format) {
    case 'uuid':
      return [randomUUID()]
    case 'email':
      return ['probe@example.test', 'probe.probe@example.com']
    case 'date-time':
      return [FUTURE().toISOString()]
    case 'date':
      return [FUTURE().toISOString().slice(0, 10)]
    case 'uri':
    case 'url':
      return ['https://example.test/probe']
    default: {
      const minLength = schema.minLength ?? 1
      const padded = (base: string) => base.padEnd(minLength, 'x')
      return [padded('probe'), padded('probe-1'), padded('PROBE'), padded('1'), padded('a')]
    }
  }
}

function sampleString(schema: JsonSchema): string {
  const pattern = schema.pattern === undefined ? null : new RegExp(schema.pattern)
  const fits = (value: string) =>
    value.length >= (schema.minLength ?? 0) &&
    value.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY) &&
    (pattern === null || pattern.test(value))
  const found = stringCandidates(schema).find(fits)
  if (found === undefined) {
    throw new UnsupportedSchema(`no sample string fits ${JSON.stringify(schema)}`)
  }
  return found
}

function sampleNumber(schema: JsonSchema, integer: boolean): number {
  let value = Math.max(schema.minimum ?? 0, (schema.exclusiveMinimum ?? -1) + 1)
  if (schema.maximum !== undefined) value = Math.min(value, schema.maximum)
  return integer ? Math.ceil(value) : value
}

/**
 * A minimal valid instance of `schema`: required properties only, enums' first value (or the
 * first documented example), the least
 * items an array may have, strings long enough (and fitting their pattern and format). A schema
 * this cannot satisfy throws `UnsupportedSchema`, so a new route is never probed with a body its
 * validation refuses (which would answer 400 and prove nothing).
 */
export function sampleOf(schema: JsonSchema, document: OpenApiDocument): unknown {
  const resolved = resolve(schema, document)
  if (resolved.const !== undefined) return resolved.const
  if (resolved.enum && resolved.enum.length > 0) return resolved.enum[0]
  // A value the route documents as typical: names it checks at run time (roles) are valid there.
  if (resolved.examples && resolved.examples.length > 0) return resolved.examples[0]
  if (resolved.allOf && resolved.allOf.length > 0) {
    const parts = resolved.allOf.map((part) => sampleOf(part, document))
    return parts.every((part) => typeof part === 'object' && part !== null && !Array.isArray(part))
      ? Object.assign({}, ...parts)
      : parts[0]
  }
  const branches = resolved.anyOf ?? resolved.oneOf
  if (branches && branches.length > 0) {
    // The first branch that is not `null`: a body of `null` is rarely what a route wants.
    const branch = branches.find((item) => !typesOf(resolve(item, document)).includes('null'))
    return sampleOf(branch ?? (branches[0] as JsonSchema), document)
  }
  const types = typesOf(resolved)
  const type = types.find((candidate) => candidate !== 'null') ?? types[0]
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const name of resolved.required ?? []) {
        const property = resolved.properties?.[name]
        if (!property) throw new UnsupportedSchema(`required ${name} has no schema`)
        out[name] = sampleOf(property, document)
      }
      return out
    }
    case 'array': {
      const count = resolved.minItems ?? 0
      if (count > 0 && !resolved.items) throw new UnsupportedSchema('array without items')
      return Array.from({ length: count }, () => sampleOf(resolved.items as JsonSchema, document))
    }
    case 'string':
      return sampleString(resolved)
    case 'integer':
      return sampleNumber(resolved, true)
    case 'number':
      return sampleNumber(resolved, false)
    case 'boolean':
      return false
    case 'null':
      return null
    default:
      throw new UnsupportedSchema(`cannot sample ${JSON.stringify(resolved)}`)
  }
}
