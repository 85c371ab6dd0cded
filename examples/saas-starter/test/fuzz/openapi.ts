import { dereference, type JsonSchema } from './json-schema.js'
import { JSON_BODY } from './response-shape.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  schema: JsonSchema
}

/** One operation of the app's OpenAPI document, with its schemas dereferenced. */
export interface Operation {
  /** `METHOD /path/{param}` as the document names it: the key of every report line. */
  key: string
  method: HttpMethod
  /** The OpenAPI path template, `{name}` for parameters. */
  path: string
  pathParams: Parameter[]
  queryParams: Parameter[]
  body?: JsonSchema
  /** `x-auth` of the route: `public`, `optional` or `required`. */
  auth: string
  /** The documented JSON body of each response, by status (`200`, `4XX`, `default`). */
  responses: Map<string, JsonSchema>
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

interface RawOperation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: JsonSchema }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>
  'x-auth'?: string
  security?: unknown[]
}

/** Every operation of the document, in document order. */
export function operationsOf(document: {
  paths: Record<string, Record<string, unknown>>
}): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const operation = raw as RawOperation
      const parameters = (operation.parameters ?? []).map(
        (parameter): Parameter => ({
          name: parameter.name,
          in: parameter.in as Parameter['in'],
          required: parameter.required ?? parameter.in === 'path',
          schema: dereference(parameter.schema ?? {}, document),
        }),
      )
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase() as HttpMethod,
        path,
        pathParams: parameters.filter((parameter) => parameter.in === 'path'),
        queryParams: parameters.filter((parameter) => parameter.in === 'query'),
        ...(bodySchema ? { body: dereference(bodySchema, document) } : {}),
        auth: operation['x-auth'] ?? (operation.security ? 'required' : 'public'),
        responses: responseSchemas(operation, document),
      })
    }
  }
  return operations
}

/** The path with each `{name}` replaced by its (already encoded) value. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? `{${name}}`)
}

function responseSchemas(operation: RawOperation, document: unknown): Map<string, JsonSchema> {
  const schemas = new Map<string, JsonSchema>()
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    const json = Object.entries(response.content ?? {}).find(([type]) => JSON_BODY.test(type))
    if (json?.[1].schema) schemas.set(status, dereference(json[1].schema, document))
  }
  return schemas
}
