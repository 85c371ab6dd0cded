import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { JsonSchema } from './json-schema.js'
import type { Operation } from './openapi.js'

// Another implementation than the app's serializer (fast-json-stringify) and its zod schemas: a
// body the serializer let through must still be what the document promises.
const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true })
addFormats.default(ajv)
const compiled = new WeakMap<JsonSchema, ValidateFunction>()
/** One JSON document (not JSON Lines, whose export streams are documented apart). */
export const JSON_BODY = /^application\/(problem\+)?json\b/

/** The documented schema of a response: its exact status, else `4XX`-style, else `default`. */
function schemaFor(operation: Operation, status: number): JsonSchema | undefined {
  const { responses } = operation
  return (
    responses.get(String(status)) ??
    responses.get(`${String(status)[0]}XX`) ??
    responses.get('default')
  )
}

/**
 * Why a JSON body does not match its documented schema (the first mismatch, as a JSON pointer
 * and the rule), or null when it does or the status documents no JSON body.
 */
export function shapeMismatch(
  operation: Operation,
  status: number,
  contentType: string,
  body: string,
): string | null {
  if (!JSON_BODY.test(contentType)) return null
  const schema = schemaFor(operation, status)
  if (!schema) return null
  let validate = compiled.get(schema)
  if (!validate) {
    validate = ajv.compile(schema)
    compiled.set(schema, validate)
  }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return 'not JSON'
  }
  if (validate(value)) return null
  const error = validate.errors?.[0]
  return `${error?.instancePath || '/'} ${error?.message ?? 'invalid'}`
}
