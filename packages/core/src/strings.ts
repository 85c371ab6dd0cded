import { z } from 'zod'

/**
 * Characters PostgreSQL cannot store (NUL), that no honest client sends in a stored field (other
 * C0 controls and DEL: terminal escapes, log forging) and halves of a UTF-16 pair, which do not
 * survive encoding to UTF-8. Tab, line feed and carriage return are text; `safeText` allows them.
 */
function firstUnsafe(value: string, allowLineBreaks: boolean): number {
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index)
    if (unit < 0x20 || unit === 0x7f) {
      if (allowLineBreaks && (unit === 0x09 || unit === 0x0a || unit === 0x0d)) continue
      return index
    }
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(index + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        index++
        continue
      }
      return index
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) return index
  }
  return -1
}

const isSafeLine = (value: string) => firstUnsafe(value, false) === -1
const isSafeText = (value: string) => firstUnsafe(value, true) === -1

const LINE_MESSAGE = 'must not contain control characters or unpaired surrogates'
const TEXT_MESSAGE = 'must not contain NUL, control characters or unpaired surrogates'

/** True when the string holds a character `safeText` refuses (the looser of the two rules). */
export function hasUnsafeCharacters(value: string): boolean {
  return !isSafeText(value)
}

/**
 * The string schema for anything the app stores on one line (names, titles, slugs, scopes):
 * a hostile character is a 400 at validation, never a database error. Chain as usual:
 * `safeString().trim().min(1).max(100)`.
 */
export function safeString(): z.ZodString {
  return z.string().refine(isSafeLine, { message: LINE_MESSAGE })
}

/** As `safeString`, for multi-line text (descriptions, notes): tab and line breaks are allowed. */
export function safeText(): z.ZodString {
  return z.string().refine(isSafeText, { message: TEXT_MESSAGE })
}

/**
 * Free-form JSON the app stores (settings, metadata): any JSON value whose every string, key
 * included, passes `safeText`, nested at most `maxDepth` levels.
 */
export function safeJson(maxDepth = 16): z.ZodType<unknown> {
  return z.unknown().superRefine((value, context) => {
    const problem = findUnsafeJson(value, maxDepth)
    if (problem) context.addIssue({ code: 'custom', message: problem.message, path: problem.path })
  })
}

/** A JSON object of `safeJson` values, for settings-like fields. */
export function safeJsonObject(maxDepth = 16): z.ZodType<Record<string, unknown>> {
  return z.record(z.string(), z.unknown()).superRefine((value, context) => {
    const problem = findUnsafeJson(value, maxDepth)
    if (problem) context.addIssue({ code: 'custom', message: problem.message, path: problem.path })
  })
}

interface JsonProblem {
  message: string
  path: PropertyKey[]
}

function findUnsafeJson(
  value: unknown,
  depthLeft: number,
  path: PropertyKey[] = [],
): JsonProblem | null {
  if (typeof value === 'string') {
    return !isSafeText(value) ? { message: TEXT_MESSAGE, path } : null
  }
  if (typeof value !== 'object' || value === null) return null
  if (depthLeft <= 0) return { message: 'is nested too deeply', path }
  const entries = Array.isArray(value) ? value.entries() : Object.entries(value)
  for (const [key, item] of entries) {
    if (typeof key === 'string' && !isSafeText(key)) {
      return { message: `key ${TEXT_MESSAGE}`, path: [...path, key] }
    }
    const problem = findUnsafeJson(item, depthLeft - 1, [...path, key])
    if (problem) return problem
  }
  return null
}
