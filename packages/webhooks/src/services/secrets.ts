import { randomBytes } from 'node:crypto'
import { SecretBox } from '@acme/core'
import { SECRET_PREFIX, secretKey, signV1 } from '../receiver/signature.js'

/** A new endpoint secret: `whsec_` + base64 of `bytes` random bytes (Standard Webhooks). */
export function generateSecret(bytes: number): string {
  return `${SECRET_PREFIX}${randomBytes(bytes).toString('base64')}`
}

/**
 * Endpoint secrets at rest: AES-256-GCM under the `encryptionKey` option, bound to the endpoint
 * id, so a ciphertext copied onto another endpoint's row does not decrypt.
 */
export class SecretVault {
  readonly #box: SecretBox

  constructor(encryptionKeyBase64: string) {
    this.#box = new SecretBox(Buffer.from(encryptionKeyBase64, 'base64'))
  }

  seal(secret: string, endpointId: string): string {
    return this.#box.encrypt(secret, `webhook-endpoint:${endpointId}`)
  }

  open(sealed: string, endpointId: string): string {
    return this.#box.decrypt(sealed, `webhook-endpoint:${endpointId}`)
  }
}

/**
 * The `webhook-signature` header: one `v1,` entry per secret, space-separated (the current
 * secret, and during a rotation's overlap the previous one, so a receiver holding either
 * verifies).
 */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): string {
  return secrets.map((secret) => signV1(secretKey(secret), id, timestamp, body)).join(' ')
}

/** The three Standard Webhooks headers of one attempt. */
export function signedHeaders(
  secrets: readonly string[],
  id: string,
  at: Date,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = Math.floor(at.getTime() / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body),
  }
}

/** A message id: `msg_` and 22 url-safe characters (128 random bits). */
export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`
}
