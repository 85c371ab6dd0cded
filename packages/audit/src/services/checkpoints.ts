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

/** A key that checks checkpoints: the current one, or one retired by a key rotation. */
interface CheckingKey {
  keyId: string
  publicKey: KeyObject
}

/** The first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex').slice(0, 16)
}

/**
 * Signs checkpoints with the app's Ed25519 key; anyone with the public key checks them. Keys
 * retired by a rotation still check the checkpoints they signed.
 */
export class CheckpointSigner {
  readonly #privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly keyId: string
  readonly #keys = new Map<string, CheckingKey>()

  constructor(privateKeyPem: string, retiredPublicKeyPems: readonly string[] = []) {
    this.#privateKey = createPrivateKey(privateKeyPem)
    if (this.#privateKey.asymmetricKeyType !== 'ed25519') {
      throw new TypeError('checkpointKey must be an Ed25519 private key')
    }
    this.publicKey = createPublicKey(this.#privateKey)
    this.keyId = keyIdOf(this.publicKey)
    this.#keys.set(this.keyId, { keyId: this.keyId, publicKey: this.publicKey })
    for (const pem of retiredPublicKeyPems) {
      const publicKey = createPublicKey(pem)
      if (publicKey.asymmetricKeyType !== 'ed25519') {
        throw new TypeError('retired checkpoint keys must be Ed25519 public keys')
      }
      const keyId = keyIdOf(publicKey)
      this.#keys.set(keyId, { keyId, publicKey })
    }
  }

  sign(checkpoint: Pick<Checkpoint, 'tenantId' | 'seq' | 'hash' | 'prunedAt'>): Checkpoint {
    const signature = sign(null, Buffer.from(checkpointMessage(checkpoint)), this.#privateKey)
    return { ...checkpoint, keyId: this.keyId, signature: signature.toString('base64url') }
  }

  /** Whether a known key (current or retired) signed the checkpoint. */
  verify(checkpoint: Checkpoint): boolean {
    const key = this.#keys.get(checkpoint.keyId)
    if (!key) return false
    try {
      return verify(
        null,
        Buffer.from(checkpointMessage(checkpoint)),
        key.publicKey,
        Buffer.from(checkpoint.signature, 'base64url'),
      )
    } catch {
      return false
    }
  }

  /** Every key that checks checkpoints, the current one first, as PEM. */
  publicKeys(): Array<{ keyId: string; publicKeyPem: string; current: boolean }> {
    return [...this.#keys.values()].map((key) => ({
      keyId: key.keyId,
      publicKeyPem: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      current: key.keyId === this.keyId,
    }))
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
