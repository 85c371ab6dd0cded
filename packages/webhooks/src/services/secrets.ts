import { createPrivateKey, type KeyObject, randomBytes } from 'node:crypto'
import { LocalCache, SecretBox } from '@acme/core'
import { signV1a } from '../receiver/asymmetric.js'
import { SECRET_PREFIX, secretKey, signV1 } from '../receiver/signature.js'

/** Standard Webhooks 1.0: an Ed25519 private key is `whsk_` + base64 (kept on the server only). */
export const PRIVATE_KEY_PREFIX = 'whsk_'

/** A new endpoint secret: `whsec_` + base64 of `bytes` random bytes (Standard Webhooks). */
export function generateSecret(bytes: number): string {
  return `${SECRET_PREFIX}${randomBytes(bytes).toString('base64')}`
}

/** How many opened secrets (and keys) a vault keeps, and for how long. */
const OPENED = { ttlMs: 600_000, maxEntries: 1_000 }

/**
 * Endpoint secrets at rest: AES-256-GCM under the `encryptionKey` option, bound to the endpoint
 * id, so a ciphertext copied onto another endpoint's row does not decrypt.
 */
export class SecretVault {
  readonly #box: SecretBox
  /**
   * Opened secrets and keys by binding and ciphertext: every delivery of a busy endpoint would
   * otherwise decrypt its secret again and, for a `v1a` tenant, parse its Ed25519 key again (the
   * parse alone cost more CPU than the rest of a delivery). A new secret or key is a new
   * ciphertext, so nothing here goes stale; bounded, and each entry dropped after ten minutes.
   */
  readonly #secrets = new LocalCache<string>(OPENED)
  readonly #signingKeys = new LocalCache<KeyObject>(OPENED)

  constructor(encryptionKeyBase64: string) {
    this.#box = new SecretBox(Buffer.from(encryptionKeyBase64, 'base64'))
  }

  seal(secret: string, endpointId: string): string {
    return this.#box.encrypt(secret, `webhook-endpoint:${endpointId}`)
  }

  open(sealed: string, endpointId: string): string {
    return this.#openOnce(this.#secrets, sealed, `webhook-endpoint:${endpointId}`, (value) => value)
  }

  /** A tenant's `whsk_` private key, bound to the tenant: it does not decrypt on another's row. */
  sealSigningKey(privateKey: string, tenantId: string): string {
    return this.#box.encrypt(privateKey, `webhook-signing-key:${tenantId}`)
  }

  /** The private key a sealed `whsk_` value holds, ready to sign; null for a tenant without one. */
  openSigningKey(sealed: string | null | undefined, tenantId: string): KeyObject | null {
    if (!sealed) return null
    return this.#openOnce(
      this.#signingKeys,
      sealed,
      `webhook-signing-key:${tenantId}`,
      privateKeyOf,
    )
  }

  #openOnce<T>(
    cache: LocalCache<T>,
    sealed: string,
    binding: string,
    parse: (value: string) => T,
  ): T {
    const key = `${binding}\n${sealed}`
    const cached = cache.get(key)
    if (cached !== undefined) return cached
    const opened = parse(this.#box.decrypt(sealed, binding))
    cache.set(key, opened)
    return opened
  }
}

/** The Ed25519 key of a `whsk_` value (base64 of the 32-byte seed). */
export function privateKeyOf(serialized: string): KeyObject {
  const seed = Buffer.from(serialized.slice(PRIVATE_KEY_PREFIX.length), 'base64')
  // PKCS#8 of an Ed25519 seed is this fixed 16-byte header followed by the 32 bytes (RFC 8410).
  const header = Buffer.from('302e020100300506032b657004220420', 'hex')
  return createPrivateKey({ key: Buffer.concat([header, seed]), format: 'der', type: 'pkcs8' })
}

/**
 * The `webhook-signature` header: one `v1,` entry per secret, space-separated (the current
 * secret, and during a rotation's overlap the previous one, so a receiver holding either
 * verifies), and a `v1a,` entry when the tenant has an Ed25519 signing key.
 */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
  privateKey: KeyObject | null = null,
): string {
  const entries = secrets.map((secret) => signV1(secretKey(secret), id, timestamp, body))
  if (privateKey) entries.push(signV1a(privateKey, id, timestamp, body))
  return entries.join(' ')
}

/** The three Standard Webhooks headers of one attempt. */
export function signedHeaders(
  secrets: readonly string[],
  id: string,
  at: Date,
  body: string,
  privateKey: KeyObject | null = null,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = Math.floor(at.getTime() / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body, privateKey),
  }
}

/** A message id: `msg_` and 22 url-safe characters (128 random bits). */
export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`
}
