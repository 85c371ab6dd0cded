import { z } from 'zod'
import { type JsonValue, toJson } from './canonical.js'
import { AuditErrors } from './errors.js'

export const REDACTED = '[REDACTED]'

/** One field that differs between a configuration's before and after (secrets redacted). */
export interface FieldChange {
  path: string
  before: JsonValue
  after: JsonValue
}

export interface ActionRule {
  name: string
  version: number
  metadata: z.ZodType
  state: z.ZodType | null
}

/** An entry's content once its action's rules applied. */
export interface CheckedContent {
  version: number
  metadata: JsonValue
  before: JsonValue
  after: JsonValue
  changes: JsonValue
}

const ACTION_NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/

/** The actions `record` accepts; domain events register theirs as they are first seen. */
export class ActionRegistry {
  readonly #rules = new Map<string, ActionRule>()

  define(rule: { name: string; version?: number; metadata: z.ZodType; state?: z.ZodType }): void {
    if (!ACTION_NAME.test(rule.name) || rule.name.length > 100) {
      throw new TypeError(
        `audit action "${rule.name}" must be dotted lower-case words, like "project.renamed"`,
      )
    }
    const version = rule.version ?? 1
    if (!Number.isInteger(version) || version < 1) {
      throw new TypeError(`audit action "${rule.name}": version must be a positive integer`)
    }
    this.#rules.set(rule.name, {
      name: rule.name,
      version,
      metadata: rule.metadata,
      state: rule.state ?? null,
    })
  }

  has(name: string): boolean {
    return this.#rules.has(name)
  }

  /**
   * Validates an entry against its action. A configuration change must give both states; their
   * secrets are redacted by the schema's `secret` marks before anything is stored or diffed.
   */
  check(
    name: string,
    input: { metadata: unknown; before?: unknown; after?: unknown },
  ): CheckedContent {
    const rule = this.#rules.get(name)
    if (!rule) throw invalid(`audit action "${name}" was never defined (app.audit.defineAction)`)
    const metadata = rule.metadata.safeParse(input.metadata)
    if (!metadata.success) {
      throw invalid(`audit action "${name}": metadata refused: ${metadata.error.message}`)
    }
    if (!rule.state) {
      return {
        version: rule.version,
        metadata: toJson(metadata.data ?? {}),
        before: toJson(input.before ?? null),
        after: toJson(input.after ?? null),
        changes: null,
      } satisfies CheckedContent
    }
    if (input.before === undefined || input.after === undefined) {
      throw invalid(`audit action "${name}" is a configuration change: give before and after`)
    }
    const rawBefore = parseState(rule, input.before, 'before')
    const rawAfter = parseState(rule, input.after, 'after')
    const state = rule.state
    const before = redact(state, rawBefore)
    const after = redact(state, rawAfter)
    // Compared unredacted, so a changed secret is recorded as changed; shown redacted.
    const changes = diff(rawBefore, rawAfter).map((change) => ({
      path: change.path,
      before: valueAt(before, change.path),
      after: valueAt(after, change.path),
    }))
    return {
      version: rule.version,
      metadata: toJson(metadata.data ?? {}),
      before,
      after,
      changes: changes as unknown as JsonValue,
    } satisfies CheckedContent
  }
}

function parseState(rule: ActionRule, value: unknown, which: string): JsonValue {
  const parsed = (rule.state as z.ZodType).safeParse(value)
  if (!parsed.success) {
    throw invalid(`audit action "${rule.name}": ${which} refused: ${parsed.error.message}`)
  }
  return toJson(parsed.data)
}

function invalid(reason: string) {
  return new AuditErrors.InvalidEntry({ cause: new Error(reason) })
}

/** Whether a schema is marked secret: `.meta({ secret: true })`, through optional/nullable/default. */
function isSecret(schema: z.ZodType): boolean {
  let current: z.ZodType | undefined = schema
  for (let depth = 0; current && depth < 8; depth++) {
    if ((current.meta() as { secret?: unknown } | undefined)?.secret === true) return true
    const inner: unknown = (current as { unwrap?: () => unknown }).unwrap?.()
    current = inner instanceof z.ZodType ? inner : undefined
  }
  return false
}

/** The object schema under optional/nullable/default wrappers, if any. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let current: z.ZodType | undefined = schema
  for (let depth = 0; current && depth < 8; depth++) {
    if (current instanceof z.ZodObject) return current.shape as Record<string, z.ZodType>
    const inner: unknown = (current as { unwrap?: () => unknown }).unwrap?.()
    current = inner instanceof z.ZodType ? inner : undefined
  }
  return null
}

/**
 * Replaces every value whose schema is marked secret with `[REDACTED]`, walking nested objects:
 * what is hidden is decided by the schema, not by field names.
 */
export function redact(schema: z.ZodType, value: JsonValue): JsonValue {
  if (isSecret(schema)) return value === null ? null : REDACTED
  const shape = objectShape(schema)
  if (!shape || value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const out: Record<string, JsonValue> = {}
  for (const [key, field] of Object.entries(value)) {
    const fieldSchema = shape[key]
    out[key] = fieldSchema ? redact(fieldSchema, field) : field
  }
  return out
}

const isRecord = (value: JsonValue): value is { [key: string]: JsonValue } =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * A field diff: one change per leaf that differs, objects compared key by key, arrays and
 * scalars as wholes. Paths are JSON Pointers (RFC 6901). A redacted secret that changed shows
 * as a change from `[REDACTED]` to `[REDACTED]`: that it changed is recorded, not its value.
 */
export function diff(before: JsonValue, after: JsonValue, path = ''): FieldChange[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((key) =>
      diff(before[key] ?? null, after[key] ?? null, `${path}/${escapePointer(key)}`),
    )
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return []
  return [{ path: path || '/', before, after }]
}

/** The value at a JSON Pointer that `diff` produced, or null. */
function valueAt(document: JsonValue, pointer: string): JsonValue {
  if (pointer === '/') return document
  let current: JsonValue = document
  for (const raw of pointer.slice(1).split('/')) {
    if (!isRecord(current)) return current === REDACTED ? REDACTED : null
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    current = current[key] ?? null
  }
  return current
}

const escapePointer = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1')
