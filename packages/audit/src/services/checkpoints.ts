import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { canonicalJson } from '../canonical.js'
import type { SqlClient } from '../sql.js'

/** A "pruned up to" checkpoint: the last entry removed, and its hash. */
export interface Checkpoint {
  tenantId: string | null
  seq: number
  hash: string
  prunedAt: string
  keyId: string
  signature: string
}

/** What the signature covers: the canonical JSON of these fields. */
export function checkpointMessage(
  checkpoint: Pick<Checkpoint, 'tenantId' | 'seq' | 'hash' | 'prunedAt'>,
): string {
  return canonicalJson({
    v: 1,
    tenantId: checkpoint.tenantId,
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    prunedAt: checkpoint.prunedAt,
  })
}

/** Signs checkpoints with the app's Ed25519 key; anyone with the public key checks them. */
export class CheckpointSigner {
  readonly #privateKey: KeyObject
  readonly publicKey: KeyObject
  /** The first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
  readonly keyId: string

  constructor(privateKeyPem: string) {
    this.#privateKey = createPrivateKey(privateKeyPem)
    if (this.#privateKey.asymmetricKeyType !== 'ed25519') {
      throw new TypeError('checkpointKey must be an Ed25519 private key')
    }
    this.publicKey = createPublicKey(this.#privateKey)
    const der = this.publicKey.export({ type: 'spki', format: 'der' })
    this.keyId = createHash('sha256').update(der).digest('hex').slice(0, 16)
  }

  sign(checkpoint: Pick<Checkpoint, 'tenantId' | 'seq' | 'hash' | 'prunedAt'>): Checkpoint {
    const signature = sign(null, Buffer.from(checkpointMessage(checkpoint)), this.#privateKey)
    return { ...checkpoint, keyId: this.keyId, signature: signature.toString('base64url') }
  }

  verify(checkpoint: Checkpoint): boolean {
    if (checkpoint.keyId !== this.keyId) return false
    try {
      return verify(
        null,
        Buffer.from(checkpointMessage(checkpoint)),
        this.publicKey,
        Buffer.from(checkpoint.signature, 'base64url'),
      )
    } catch {
      return false
    }
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }
}

/** The chain's latest checkpoint (in `db`'s tenant), or null. */
export async function latestCheckpoint(
  db: SqlClient,
  tenantId: string | null,
): Promise<Checkpoint | null> {
  const rows = await db.$queryRawUnsafe<
    Array<Omit<Checkpoint, 'prunedAt'> & { prunedAt: Date | string }>
  >(
    `SELECT "tenant_id"::text AS "tenantId", "seq", "hash", "pruned_at" AS "prunedAt",
            "key_id" AS "keyId", "signature"
     FROM "audit_checkpoints"
     WHERE ${tenantId === null ? '"tenant_id" IS NULL AND $1::uuid IS NULL' : '"tenant_id" = $1::uuid'}
     ORDER BY "seq" DESC LIMIT 1`,
    tenantId,
  )
  const row = rows[0]
  if (!row) return null
  return { ...row, seq: Number(row.seq), prunedAt: new Date(row.prunedAt).toISOString() }
}

export async function insertCheckpoint(db: SqlClient, checkpoint: Checkpoint): Promise<void> {
  await db.$queryRawUnsafe(
    `INSERT INTO "audit_checkpoints" ("id", "tenant_id", "seq", "hash", "pruned_at", "key_id", "signature")
     VALUES (gen_random_uuid(), $1::uuid, $2::int, $3::text, $4::timestamptz, $5::text, $6::text)
     RETURNING "id"`,
    checkpoint.tenantId,
    checkpoint.seq,
    checkpoint.hash,
    checkpoint.prunedAt,
    checkpoint.keyId,
    checkpoint.signature,
  )
}
