import type { SecretVault } from '../services/secrets.js'
import { signedHeaders } from '../services/secrets.js'
import type { SqlClient } from '../sql.js'

/** A delivery this worker holds (its lease) for one attempt. */
export interface Claimed {
  deliveryId: string
  /** This attempt's number (1-based), counted by the claim. */
  attempts: number
  messageId: string
  endpointId: string
}

/** What to POST for a claimed delivery. */
export interface SignedRequest {
  url: string
  rateLimit: number | null
  body: string
  headers: Record<string, string>
}

/** A claim and its request; `request` is null when the endpoint is disabled or gone. */
export interface Claim {
  claimed: Claimed
  request: SignedRequest | null
}

/** A claimed delivery with its endpoint and message (null when either is gone). */
export interface ClaimedRow extends Claimed {
  url: string | null
  enabled: boolean | null
  headers: Record<string, string> | null
  secret: string | null
  previousSecret: string | null
  previousSecretUntil: Date | null
  rateLimit: number | null
  eventType: string | null
  payload: unknown
  createdAt: Date | null
  tenantId: string
  /** The tenant's sealed Ed25519 key (`v1a`), null when it signs with `v1` only. */
  signingKey: string | null
}

/**
 * Claims deliveries in `tx` (already in the tenant): this one, or with `null` the tenant's oldest
 * due ones, up to `limit`. Due by the injected clock and not leased; `FOR UPDATE SKIP LOCKED` so
 * two runs never wait on, nor take, the same row. The lease (`leaseUntil`) keeps other runs off
 * them while this worker calls the receiver; after a crash it runs out and the sweeper queues
 * them again. One statement claims and reads the endpoints and the messages, oldest due first.
 */
export async function claimDeliveries(
  tx: SqlClient,
  tenantId: string,
  deliveryId: string | null,
  at: { now: Date; leaseUntil: Date; limit: number },
): Promise<ClaimedRow[]> {
  if (at.limit < 1) return []
  return tx.$queryRawUnsafe<ClaimedRow[]>(
    `WITH next AS (
       SELECT id, next_attempt_at FROM webhook_deliveries
       WHERE tenant_id = $1::uuid AND status = 'pending' AND next_attempt_at <= $2
         AND (lease_until IS NULL OR lease_until < $2)
         ${deliveryId === null ? '' : 'AND id = $5::uuid'}
       ORDER BY next_attempt_at LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1, lease_until = $3, updated_at = $2
       FROM next WHERE d.id = next.id
       RETURNING d.id, d.attempts, d.message_id, d.endpoint_id, next.next_attempt_at
     )
     SELECT c.id AS "deliveryId", c.attempts, c.message_id AS "messageId",
       c.endpoint_id AS "endpointId", e.url, e.enabled, e.headers, e.secret,
       e.previous_secret AS "previousSecret", e.previous_secret_until AS "previousSecretUntil",
       e.rate_limit_per_second AS "rateLimit", m.event_type AS "eventType", m.payload,
       m.created_at AS "createdAt", $1::text AS "tenantId", k.private_key AS "signingKey"
     FROM claimed c
     LEFT JOIN webhook_endpoints e ON e.tenant_id = $1::uuid AND e.id = c.endpoint_id
     LEFT JOIN webhook_messages m ON m.tenant_id = $1::uuid AND m.id = c.message_id
     LEFT JOIN webhook_signing_keys k ON k.tenant_id = $1::uuid
     ORDER BY c.next_attempt_at`,
    tenantId,
    at.now,
    at.leaseUntil,
    at.limit,
    ...(deliveryId === null ? [] : [deliveryId]),
  )
}

/**
 * The signed request of a claimed row, made after its transaction committed: a secret that does
 * not decrypt fails this attempt, never the record of another that shared the transaction.
 */
export function signClaim(row: ClaimedRow, now: Date, vault: SecretVault): Claim {
  const claimed: Claimed = {
    deliveryId: row.deliveryId,
    attempts: row.attempts,
    messageId: row.messageId,
    endpointId: row.endpointId,
  }
  if (!row.enabled || row.url === null || row.secret === null || row.createdAt === null) {
    return { claimed, request: null }
  }
  const secrets = [vault.open(row.secret, row.endpointId)]
  if (row.previousSecret && row.previousSecretUntil && row.previousSecretUntil > now) {
    secrets.push(vault.open(row.previousSecret, row.endpointId))
  }
  // The same body on every attempt: the envelope Standard Webhooks recommends.
  const body = JSON.stringify({
    type: row.eventType,
    timestamp: row.createdAt.toISOString(),
    data: row.payload,
  })
  return {
    claimed,
    request: {
      url: row.url,
      rateLimit: row.rateLimit,
      body,
      headers: {
        ...row.headers,
        ...signedHeaders(
          secrets,
          row.messageId,
          now,
          body,
          vault.openSigningKey(row.signingKey, row.tenantId),
        ),
      },
    },
  }
}
