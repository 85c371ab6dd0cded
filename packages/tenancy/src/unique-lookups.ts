import type { ModelRule } from './data-model.js'

type Args = Record<string, unknown>

const isObject = (value: unknown): value is Args =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const LOGICAL = new Set(['AND', 'OR', 'NOT'])

const AS_FIRST: Readonly<Record<string, string>> = {
  findUnique: 'findFirst',
  findUniqueOrThrow: 'findFirstOrThrow',
}

/**
 * Prisma merges `findUnique` calls made in the same tick into one statement, across callers, and
 * runs it in the first caller's async context. On the tenant client that context carries the
 * tenant, so two requests' lookups must never be merged: a unique lookup is sent as `findFirst`
 * (never batched), with a compound unique key (`tenantId_userId: { tenantId, userId }`) spread
 * into plain field conditions. The row is the same; `...OrThrow` fails with the same P2025.
 */
export function unbatched(
  rule: ModelRule,
  operation: string,
  args: Args | undefined,
): { operation: string; args: Args | undefined } {
  const first = AS_FIRST[operation]
  if (!first) return { operation, args }
  if (!args || !isObject(args.where)) return { operation: first, args }
  const where: Args = {}
  const keys: Args[] = []
  for (const [key, value] of Object.entries(args.where)) {
    const field = rule.scalars.has(key) || rule.relations.has(key) || LOGICAL.has(key)
    if (!field && isCompoundKey(rule, value)) keys.push(value)
    else where[key] = value
  }
  if (keys.length === 0) return { operation: first, args }
  const existing = where.AND === undefined ? [] : Array.isArray(where.AND) ? where.AND : [where.AND]
  return { operation: first, args: { ...args, where: { ...where, AND: [...existing, ...keys] } } }
}

/** A compound unique key's value: an object of the model's own scalar fields. */
function isCompoundKey(rule: ModelRule, value: unknown): value is Args {
  if (!isObject(value)) return false
  const fields = Object.keys(value)
  return fields.length > 0 && fields.every((field) => rule.scalars.has(field))
}
