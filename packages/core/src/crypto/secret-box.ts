import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const KEY_BYTES = 32
// 96-bit nonces are GCM's native size; random ones are safe far beyond the number of secrets.
const IV_BYTES = 12
const TAG_BYTES = 16
const VERSION = 'v1'

/**
 * AES-256-GCM for small secrets at rest (TOTP seeds, webhook signing secrets). `context` is bound
 * as additional data, so a ciphertext copied to another row (another user, another endpoint)
 * fails to decrypt instead of being accepted. Stored as `v1.<base64url iv|tag|ciphertext>`; the
 * version leaves room for key rotation.
 */
export class SecretBox {
  static readonly KEY_BYTES = KEY_BYTES
  readonly #key: Buffer

  /** `key`: 32 bytes (e.g. `Buffer.from(base64Option, 'base64')`). */
  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`the encryption key must be ${KEY_BYTES} bytes`)
    this.#key = Buffer.from(key)
  }

  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), ciphertext])
    return `${VERSION}.${sealed.toString('base64url')}`
  }

  /** Throws on a wrong key, a wrong context or any tampering. */
  decrypt(sealed: string, context: string): string {
    const [version, body] = sealed.split('.')
    if (version !== VERSION || body === undefined) throw new Error('unknown secret format')
    const bytes = Buffer.from(body, 'base64url')
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('truncated secret')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(context, 'utf8'))
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    const plaintext = Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ])
    return plaintext.toString('utf8')
  }
}
