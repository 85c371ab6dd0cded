import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * HMAC-SHA256 over a purpose and its fields, so a signature made for one purpose (a download
 * link) never verifies for another (a direct-upload ticket), nor for another tenant or file.
 */
export class Signer {
  readonly #key: Buffer

  constructor(base64Key: string) {
    this.#key = Buffer.from(base64Key, 'base64')
  }

  sign(purpose: string, fields: readonly string[]): string {
    const mac = createHmac('sha256', this.#key)
    mac.update(purpose)
    for (const field of fields) {
      // Length-prefixed: no two field lists serialise to the same bytes.
      mac.update(`\n${field.length}:${field}`)
    }
    return mac.digest('base64url')
  }

  /** Constant-time comparison of a presented signature with the expected one. */
  verify(purpose: string, fields: readonly string[], signature: string): boolean {
    const expected = Buffer.from(this.sign(purpose, fields), 'base64url')
    const presented = Buffer.from(signature, 'base64url')
    // Compared whatever the length, so the time taken says nothing about the expected value.
    const padded = Buffer.alloc(expected.length)
    presented.copy(padded, 0, 0, Math.min(presented.length, expected.length))
    return timingSafeEqual(padded, expected) && presented.length === expected.length
  }
}

export const DOWNLOAD_PURPOSE = 'acme-files-download-v1'
export const DIRECT_UPLOAD_PURPOSE = 'acme-files-direct-upload-v1'
