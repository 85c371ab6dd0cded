import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import { CliError } from './cli-error.js'

/** The asymmetric algorithms @acme/auth signs access tokens with (`jwt.algorithm`). */
export const SIGNING_KEY_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const

export type SigningKeyAlgorithm = (typeof SIGNING_KEY_ALGORITHMS)[number]

/** A private JWK as @acme/auth's `jwt.privateKeys` takes it: `kid`, `alg` and `use` set. */
export type PrivateSigningJwk = JsonWebKey & { kid: string; alg: SigningKeyAlgorithm; use: 'sig' }

/** The members RFC 7638 hashes for a key's thumbprint, per key type, in lexical order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  OKP: ['crv', 'kty', 'x'],
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
}

export function isSigningKeyAlgorithm(value: string): value is SigningKeyAlgorithm {
  return (SIGNING_KEY_ALGORITHMS as readonly string[]).includes(value)
}

/**
 * A new private signing key in the shape @acme/auth expects in `jwt.privateKeys` (and the
 * starter in `JWT_PRIVATE_KEYS`). The `kid` defaults to the key's RFC 7638 thumbprint: unique
 * without bookkeeping, and it reveals nothing the public key does not.
 */
export function generateSigningKey(
  algorithm: SigningKeyAlgorithm = 'EdDSA',
  kid?: string,
): PrivateSigningJwk {
  const jwk = keyPair(algorithm).privateKey.export({ format: 'jwk' })
  return { ...jwk, kid: kid ?? thumbprint(jwk), alg: algorithm, use: 'sig' }
}

/** `acme keys generate`: the value of JWT_PRIVATE_KEYS, a JSON array holding one new key. */
export function keysGenerateCommand(flags: {
  algorithm: string | undefined
  kid: string | undefined
}): string {
  const algorithm = flags.algorithm ?? 'EdDSA'
  if (!isSigningKeyAlgorithm(algorithm)) {
    throw new CliError(
      'ACME_CLI_KEY_OPTION_INVALID',
      `--algorithm ${algorithm}: choose one of ${SIGNING_KEY_ALGORITHMS.join(', ')} (the one @acme/auth's jwt.algorithm names; EdDSA is its default). HS256 takes a secret, not a key: any 32 random bytes.`,
    )
  }
  if (flags.kid !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(flags.kid)) {
    throw new CliError(
      'ACME_CLI_KEY_OPTION_INVALID',
      `--kid ${JSON.stringify(flags.kid)}: use 1 to 64 letters, digits, dots, dashes or underscores`,
    )
  }
  return JSON.stringify([generateSigningKey(algorithm, flags.kid)])
}

function keyPair(algorithm: SigningKeyAlgorithm) {
  switch (algorithm) {
    case 'EdDSA':
      return generateKeyPairSync('ed25519')
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 })
  }
}

function thumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)] ?? []
  const canonical = `{${members.map((name) => `"${name}":${JSON.stringify(jwk[name])}`).join(',')}}`
  return createHash('sha256').update(canonical).digest('base64url')
}
