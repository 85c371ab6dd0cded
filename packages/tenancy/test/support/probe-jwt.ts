/** The claims of a compact JWS, read without verifying it (the test's own tokens). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1]
  if (payload === undefined) throw new Error('not a compact JWS')
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** The same token with its payload replaced by `edit(claims)`, header and signature kept. */
export function withEditedClaims(
  token: string,
  edit: (claims: Record<string, unknown>) => Record<string, unknown>,
): string {
  const [header, , signature] = token.split('.')
  if (header === undefined || signature === undefined) throw new Error('not a compact JWS')
  const payload = Buffer.from(JSON.stringify(edit(claimsOf(token))), 'utf8').toString('base64url')
  return `${header}.${payload}.${signature}`
}

/** The same token with one character of its payload changed, header and signature kept. */
export function withFlippedPayloadChar(token: string, at = 10): string {
  const [header, payload, signature] = token.split('.')
  if (header === undefined || payload === undefined || signature === undefined) {
    throw new Error('not a compact JWS')
  }
  const index = at % payload.length
  const original = payload[index]
  const replacement = original === 'A' ? 'B' : 'A'
  return `${header}.${payload.slice(0, index)}${replacement}${payload.slice(index + 1)}.${signature}`
}
