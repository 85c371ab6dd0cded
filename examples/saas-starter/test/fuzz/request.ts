/** A variant: one named request, and the helper every variant family builds it with. */
import { fillPath, type Operation } from './openapi.js'

/** One request to send, named for the report. */
export interface Variant {
  /** What is being varied: `valid`, `field`, `body`, `content-type`, `path`, `query`, ... */
  family: string
  /** What exactly, e.g. `name: NUL char`. */
  name: string
  method: string
  url: string
  /** Added to (or, as `null`, removed from) the identity's headers. */
  headers: Record<string, string | null>
  payload?: string | Buffer
  /** Sent this many times at once (duplicate requests racing each other). */
  parallel?: number
}

export interface VariantInput {
  operation: Operation
  /** A real row's id for each path parameter. */
  ids: Record<string, string>
  /** Bodies generated from the schema (valid by construction). */
  validBodies: unknown[]
  /** Query objects generated from the declared query parameters. */
  validQueries: Array<Record<string, unknown>>
  /** A body with real values (the owner's password, a real token...) when the fixture has one. */
  realBody?: unknown
  /** Generated query strings of unknown parameters, to pad an operation to `minimum` variants. */
  noise: string[]
  minimum: number
}

export const JSON_TYPE = { 'content-type': 'application/json' }

export function baseBody(input: VariantInput): unknown {
  if (!input.operation.body) return undefined
  return input.realBody ?? input.validBodies[0] ?? {}
}

interface RequestParts {
  query?: string
  ids?: Record<string, string>
  payload?: string | Buffer
  headers?: Record<string, string | null>
  method?: string
}

export function urlOf(
  input: VariantInput,
  parts: RequestParts = {},
  queryObject?: Record<string, unknown>,
) {
  const path = fillPath(input.operation.path, { ...encodedIds(input.ids), ...parts.ids })
  const query = parts.query ?? (queryObject ? toQueryString(queryObject) : '')
  return query ? `${path}?${query}` : path
}

function encodedIds(ids: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(ids).map(([key, id]) => [key, encodeURIComponent(id)]))
}

/** A request with the base body (JSON) unless `parts` says otherwise. */
export function request(
  input: VariantInput,
  family: string,
  name: string,
  body: unknown,
  parts: RequestParts = {},
  queryObject?: Record<string, unknown>,
): Variant {
  const hasBody = parts.payload !== undefined || (input.operation.body && body !== undefined)
  return {
    family,
    name,
    method: parts.method ?? input.operation.method,
    url: urlOf(input, parts, queryObject ?? input.validQueries[0]),
    headers: { ...(hasBody ? JSON_TYPE : {}), ...parts.headers },
    ...(parts.payload !== undefined
      ? { payload: parts.payload }
      : hasBody
        ? { payload: JSON.stringify(body) }
        : {}),
  }
}

export function toQueryString(values: Record<string, unknown>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) search.append(key, String(value))
  }
  return search.toString()
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
