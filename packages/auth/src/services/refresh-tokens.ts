import { createHash, randomBytes } from 'node:crypto'

/** 32 bytes from the CSPRNG (256 bits), base64url so it travels in JSON and cookies unescaped. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * What is stored instead of the token. A plain SHA-256 (no salt, no KDF) is enough because the
 * input already has 256 bits of entropy, and it keeps lookup by hash a single indexed query.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}
