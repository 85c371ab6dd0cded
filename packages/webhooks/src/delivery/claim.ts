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

/** How long a claim holds and how many it takes. */
export interface ClaimWindow {
  /** Due by this time (the injected clock). */
  now: Date
  /** The claimed rows are the worker's until then. */
  leaseUntil: Date
  limit: number
}

/**
 * Claims deliveries in `tx` (already in the tenant): this one, or with `null` the tenant's oldest
 * due ones, up to `limit` (`acme_webhooks_claim`, from the package's SQL). Due by the injected
 * clock and not leased; `FOR UPDATE SKIP LOCKED` so two runs never wait on, nor take, the same
 * row. The lease (`leaseUntil`) keeps other runs off them while this worker calls the receiver;
 * after a crash it runs out and the sweeper queues them again. Each comes with its endpoint and
 * message, oldest due first.
 */
export async function claimDeliveries(
  tx: SqlClient,
  tenantId: string,
  deliveryId: string | null,
  at: ClaimWindow,
): Promise<ClaimedRow[]> {
  if (at.limit < 1) return []
  return tx.$queryRawUnsafe<ClaimedRow[]>(
    'SELECT * FROM acme_webhooks_claim($1::uuid, $2::uuid, $3, $4, $5::int)',
    tenantId,
    deliveryId,
    at.now,
    at.leaseUntil,
    at.limit,
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
