import { spawnSync } from 'node:child_process'
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  sign,
  verify,
} from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { generateSigningKey } from '../src/keys.js'

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

function acme(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

/** Signs with the private JWK and verifies with only its public members, as a JWKS reader would. */
function signsAndVerifies(jwk: JsonWebKey, algorithm: string): boolean {
  const hash = algorithm === 'EdDSA' ? null : 'sha256'
  const data = Buffer.from('header.payload')
  const signature = sign(hash, data, createPrivateKey({ key: jwk, format: 'jwk' }))
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk
  return verify(hash, data, createPublicKey({ key: publicJwk, format: 'jwk' }), signature)
}

describe('acme keys generate', () => {
  it('prints only a JWT_PRIVATE_KEYS value: a JSON array of one private Ed25519 JWK', () => {
    const run = acme('keys', 'generate')
    expect(run.code).toBe(0)
    const keys = JSON.parse(run.out) as JsonWebKey[]
    expect(run.out.trim().split('\n')).toHaveLength(1)
    expect(keys).toHaveLength(1)
    const [key] = keys
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' })
    expect(typeof key?.d).toBe('string')
    expect(key?.kid).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(signsAndVerifies(key ?? {}, 'EdDSA')).toBe(true)
    expect(run.err).toContain('keep it out of version control')
  })

  it('makes a new key each time', () => {
    const first = JSON.parse(acme('keys', 'generate').out)[0]
    const second = JSON.parse(acme('keys', 'generate').out)[0]
    expect(first.kid).not.toBe(second.kid)
    expect(first.d).not.toBe(second.d)
  })

  it.each([
    ['ES256', { kty: 'EC', crv: 'P-256' }],
    ['RS256', { kty: 'RSA' }],
  ])('makes %s keys for jwt.algorithm %s, with the kid asked for', (algorithm, shape) => {
    const run = acme('keys', 'generate', '--algorithm', algorithm, '--kid', '2026-12')
    expect(run.code).toBe(0)
    const [key] = JSON.parse(run.out) as JsonWebKey[]
    expect(key).toMatchObject({ ...shape, alg: algorithm, use: 'sig', kid: '2026-12' })
    expect(signsAndVerifies(key ?? {}, algorithm)).toBe(true)
  })

  it('derives the default kid from the public key (RFC 7638 thumbprint)', () => {
    const key = generateSigningKey('EdDSA')
    const expected = createHash('sha256')
      .update(`{"crv":"Ed25519","kty":"OKP","x":"${key.x}"}`)
      .digest('base64url')
    expect(key.kid).toBe(expected)
  })

  it('refuses an algorithm auth does not sign with, and a kid with odd characters', () => {
    const hs = acme('keys', 'generate', '--algorithm', 'HS256')
    expect(hs.code).toBe(1)
    expect(hs.err).toMatch(/^ACME_CLI_KEY_OPTION_INVALID: .*EdDSA, ES256, RS256/)
    const kid = acme('keys', 'generate', '--kid', 'a b')
    expect(kid.code).toBe(1)
    expect(kid.err).toMatch(/^ACME_CLI_KEY_OPTION_INVALID: --kid/)
  })
})
