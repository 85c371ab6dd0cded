import type { DomainEvent } from '@acme/core'
import type { AuditTarget } from './types.js'

/** Payload fields that name what an event is about, and the target type each one names. */
const TARGET_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['tenantId', 'tenant'],
  ['userId', 'user'],
  ['roleId', 'role'],
  ['sessionId', 'session'],
  ['sessionIds', 'session'],
  ['keyId', 'api_key'],
  ['apiKeyId', 'api_key'],
  ['invitationId', 'invitation'],
  ['fileId', 'file'],
  ['webhookId', 'webhook'],
  ['endpointId', 'webhook_endpoint'],
  ['flagId', 'flag'],
  ['flagKey', 'flag'],
]

/**
 * Payload fields never stored, whatever event carries them: credentials an event should not
 * carry in the first place. Event payloads are typed declarations of their plugins; this list
 * is the net under them.
 */
const NEVER_STORED = new Set([
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'accessToken',
  'refreshToken',
  'resetToken',
  'secret',
  'apiKey',
  'key',
  'code',
  'recoveryCode',
  'recoveryCodes',
  'totpSecret',
])

const uuidLike = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The targets of a domain event: what its payload names. */
export function targetsOf(payload: Record<string, unknown>): AuditTarget[] {
  const targets: AuditTarget[] = []
  for (const [field, type] of TARGET_FIELDS) {
    const value = payload[field]
    const ids = Array.isArray(value) ? value : [value]
    for (const id of ids) {
      if (typeof id === 'string' && id.length > 0 && id.length <= 100) targets.push({ type, id })
    }
  }
  return targets
}

/** A value without any field named like a credential, at any depth. */
export function withoutCredentials(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutCredentials)
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  const kept: Record<string, unknown> = {}
  for (const [field, inner] of Object.entries(value)) {
    if (!NEVER_STORED.has(field)) kept[field] = withoutCredentials(inner)
  }
  return kept
}

/**
 * What an event's entry stores of its payload: `before` and `after`, when the payload carries
 * them (a configuration change), and the rest as metadata; credential-like fields dropped at any
 * depth.
 */
export function contentOf(payload: Record<string, unknown>): {
  metadata: Record<string, unknown>
  states: { before: unknown; after: unknown } | null
} {
  const { before, after, ...rest } = payload
  const states = 'before' in payload || 'after' in payload
  return {
    metadata: withoutCredentials(rest) as Record<string, unknown>,
    states: states
      ? { before: withoutCredentials(before ?? null), after: withoutCredentials(after ?? null) }
      : null,
  }
}

/** The chain an event belongs to: the tenant its payload names, else the request's, else none. */
export function tenantOf(event: DomainEvent): string | null {
  const payload = event.payload as Record<string, unknown>
  if ('tenantId' in payload) {
    const named = payload.tenantId
    return typeof named === 'string' && uuidLike.test(named) ? named : null
  }
  return event.tenantId
}

/** Events that name a user who did not act: a failed attempt names nobody who got in. */
const NO_ACTOR = new Set(['user.login_failed', 'auth.login_throttled'])

/**
 * The acting user an event names when its request had no authenticated caller: `by`, else (in
 * a request, `userIsActor`) its `userId`.
 */
export function userOf(event: DomainEvent, userIsActor: boolean): string | null {
  if (NO_ACTOR.has(event.name)) return null
  const payload = event.payload as Record<string, unknown>
  const named = payload.by ?? (userIsActor ? payload.userId : undefined)
  return typeof named === 'string' && named.length > 0 ? named : null
}
