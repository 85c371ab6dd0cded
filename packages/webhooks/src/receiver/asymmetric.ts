import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto'

/** Standard Webhooks 1.0: an Ed25519 public key is `whpk_` + base64 of its 32 raw bytes. */
export const PUBLIC_KEY_PREFIX = 'whpk_'

const ED25519_KEY_BYTES = 32
const ED25519_SIGNATURE_BYTES = 64

/** The key of a `whpk_…` public key (the prefix is optional, as for `whsec_` secrets). */
export function publicKeyOf(serialized: string): KeyObject {
  const encoded = serialized.startsWith(PUBLIC_KEY_PREFIX)
    ? serialized.slice(PUBLIC_KEY_PREFIX.length)
    : serialized
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('the public key is not base64')
  const raw = Buffer.from(encoded, 'base64')
  if (raw.length !== ED25519_KEY_BYTES) throw new Error('an Ed25519 public key is 32 bytes')
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  })
}

/** `v1a,<base64 Ed25519 signature of "id.timestamp.body">`: one entry of `webhook-signature`. */
export function signV1a(
  privateKey: KeyObject,
  id: string,
  timestamp: number,
  body: string,
): string {
  const signature = sign(null, Buffer.from(`${id}.${timestamp}.${body}`, 'utf8'), privateKey)
  return `v1a,${signature.toString('base64')}`
}

/** Whether any `v1a,` entry of a `webhook-signature` header is a valid signature by `publicKey`. */
export function matchesAnyV1a(
  header: string,
  publicKey: KeyObject,
  id: string,
  timestamp: number,
  body: string,
): boolean {
  const signed = Buffer.from(`${id}.${timestamp}.${body}`, 'utf8')
  let matched = false
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',')
    if (comma < 0 || entry.slice(0, comma) !== 'v1a') continue
    const given = Buffer.from(entry.slice(comma + 1), 'base64')
    // Verifying needs no secret, so there is no timing to hide; a malformed entry is no match.
    if (given.length === ED25519_SIGNATURE_BYTES && verify(null, signed, publicKey, given)) {
      matched = true
    }
  }
  return matched
}
