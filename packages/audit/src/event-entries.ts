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

/** The event's payload as metadata, without anything credential-like. */
export function metadataOf(payload: Record<string, unknown>): Record<string, unknown> {
  const metadata: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(payload)) {
    if (!NEVER_STORED.has(field)) metadata[field] = value
  }
  return metadata
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
