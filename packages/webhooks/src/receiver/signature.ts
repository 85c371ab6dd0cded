import { createHmac, timingSafeEqual } from 'node:crypto'

/** Standard Webhooks 1.0: secrets are `whsec_` + base64 of the key bytes. */
export const SECRET_PREFIX = 'whsec_'

/** The key bytes of a `whsec_…` secret (the prefix is optional, as in the reference libraries). */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('the secret is not base64')
  const key = Buffer.from(encoded, 'base64')
  if (key.length < 1) throw new Error('the secret is empty')
  return key
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`: one entry of `webhook-signature`. */
export function signV1(key: Buffer, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest()
  return `v1,${mac.toString('base64')}`
}

/** Whether any `v1,` entry of a `webhook-signature` header is the expected MAC (constant time). */
export function matchesAnyV1(
  header: string,
  key: Buffer,
  id: string,
  timestamp: number,
  body: string,
): boolean {
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest()
  let matched = false
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',')
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue
    const given = Buffer.from(entry.slice(comma + 1), 'base64')
    // The MAC's length is public (32 bytes); only equal-length values are compared, in constant
    // time, and every entry is looked at so the position of a match does not show in the timing.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true
  }
  return matched
}
