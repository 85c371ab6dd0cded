import { generateKeyPairSync } from 'node:crypto'
import type { Clock } from '@acme/core'
import { WebhooksErrors } from '../errors.js'
import { PUBLIC_KEY_PREFIX } from '../receiver/asymmetric.js'
import type { SqlClient } from '../sql.js'
import { PRIVATE_KEY_PREFIX, type SecretVault } from './secrets.js'

export interface SigningKeyView {
  /** `whpk_` + base64 of the raw Ed25519 public key: what receivers verify `v1a` with. */
  publicKey: string
  createdAt: Date
}

/** A new Ed25519 pair: `whpk_` public key and `whsk_` private key (base64 of the 32-byte seed). */
export function generateSigningKey(): { publicKey: string; privateKey: string } {
  const pair = generateKeyPairSync('ed25519')
  const jwk = pair.privateKey.export({ format: 'jwk' })
  if (!jwk.d || !jwk.x) throw new Error('Ed25519 key export gave no JWK members')
  return {
    publicKey: `${PUBLIC_KEY_PREFIX}${Buffer.from(jwk.x, 'base64url').toString('base64')}`,
    privateKey: `${PRIVATE_KEY_PREFIX}${Buffer.from(jwk.d, 'base64url').toString('base64')}`,
  }
}

const COLUMNS = 'public_key AS "publicKey", created_at AS "createdAt"'

/**
 * The tenant's Ed25519 key pair for `v1a` signatures (opt-in per tenant). The private key is
 * sealed in the tenant's row and only the delivery engine opens it; the public key is published.
 */
export class SigningKeyService {
  readonly #vault: SecretVault
  readonly #clock: Clock

  constructor(deps: { vault: SecretVault; clock: Clock }) {
    this.#vault = deps.vault
    this.#clock = deps.clock
  }

  async get(db: SqlClient, tenantId: string): Promise<SigningKeyView> {
    const [row] = await db.$queryRawUnsafe<SigningKeyView[]>(
      `SELECT ${COLUMNS} FROM webhook_signing_keys WHERE tenant_id = $1::uuid`,
      tenantId,
    )
    if (!row) throw new WebhooksErrors.SigningKeyNotFound()
    return row
  }

  /**
   * Creates the tenant's key pair; a tenant that has one keeps it (`created: false`), so asking
   * twice never changes the key receivers trust.
   */
  async create(
    db: SqlClient,
    tenantId: string,
  ): Promise<{ key: SigningKeyView; created: boolean }> {
    const pair = generateSigningKey()
    const [inserted] = await db.$queryRawUnsafe<SigningKeyView[]>(
      `INSERT INTO webhook_signing_keys (tenant_id, public_key, private_key, created_at)
       VALUES ($1::uuid, $2, $3, $4)
       ON CONFLICT (tenant_id) DO NOTHING RETURNING ${COLUMNS}`,
      tenantId,
      pair.publicKey,
      this.#vault.sealSigningKey(pair.privateKey, tenantId),
      this.#clock(),
    )
    if (inserted) return { key: inserted, created: true }
    return { key: await this.get(db, tenantId), created: false }
  }

  /** Deletes the key pair: deliveries carry `v1` signatures only from then on. */
  async remove(db: SqlClient, tenantId: string): Promise<void> {
    const rows = await db.$queryRawUnsafe<Array<{ tenantId: string }>>(
      'DELETE FROM webhook_signing_keys WHERE tenant_id = $1::uuid RETURNING tenant_id AS "tenantId"',
      tenantId,
    )
    if (rows.length === 0) throw new WebhooksErrors.SigningKeyNotFound()
  }
}
