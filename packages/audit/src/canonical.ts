import { createHash } from 'node:crypto'

/** What an entry's chain starts from when nothing came before it: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64)

/** The version of the canonical form below, stored in every entry's hashed content as `v`. */
export const CANONICAL_VERSION = 1

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values entries hold):
 * object keys sorted by UTF-16 code units, no whitespace, strings and numbers as
 * `JSON.stringify` writes them. Anyone can recompute it from an exported entry.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(',')}}`
}

/** A value as JSON stores it: undefined fields dropped, dates as ISO strings. */
export function toJson(value: unknown): JsonValue {
  if (value === undefined) return null
  return JSON.parse(JSON.stringify(value)) as JsonValue
}

export const sha256Hex = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex')

/** The fields of an entry its hash covers, as stored and as exported. */
export interface HashedContent {
  tenantId: string | null
  action: string
  actionVersion: number
  occurredAt: string
  actor: JsonValue
  targets: JsonValue
  before: JsonValue
  after: JsonValue
  changes: JsonValue
  metadata: JsonValue
  ip: string | null
  userAgent: string | null
  requestId: string | null
}

/** SHA-256 (hex) of the content's canonical form, with `v`. */
export function contentHash(content: HashedContent): string {
  return sha256Hex(canonicalJson({ v: CANONICAL_VERSION, ...content } as JsonValue))
}

/**
 * An entry's hash: `sha256(prevHash + "|" + seq + "|" + contentHash)`, hex. PostgreSQL computes
 * the same when it appends the entry (see the recorder), since only it knows `seq` and `prevHash`
 * at that moment.
 */
export function chainHash(prevHash: string, seq: number, content: string): string {
  return sha256Hex(`${prevHash}|${seq}|${content}`)
}
