import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AcmeConfigError } from '@acme/core'
import {
  type CryptoKey,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthErrors } from '../src/errors.js'
import { VerifiedTokenCache } from '../src/services/token-cache.js'
import {
  type AccessClaims,
  TokenService,
  type TokenServiceOptions,
} from '../src/services/tokens.js'

const ISSUER = 'https://auth.example.test'
const AUDIENCE = 'https://api.example.test'
const START = new Date('2030-01-01T00:00:00Z')
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']

let now = START
const clock = () => now
const nowSeconds = () => Math.floor(now.getTime() / 1000)

interface TestKey {
  kid: string
  privateKey: CryptoKey
  privateJwk: JWK
  publicJwk: JWK
}

async function makeKey(kid: string, alg = 'EdDSA'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return {
    kid,
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), kid },
    publicJwk: { ...(await exportJWK(publicKey)), kid },
  }
}

function createService(overrides: Partial<TokenServiceOptions> = {}): Promise<TokenService> {
  return TokenService.create({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithm: 'EdDSA',
    privateKeys: [current.privateJwk],
    clock,
    ...overrides,
  })
}

/** Signs arbitrary claims and header with our key, as an attacker holding a valid key could not. */
function forge(
  claims: JWTPayload = {},
  header: Partial<JWTHeaderParameters> = {},
  key: CryptoKey | Uint8Array = current.privateKey,
): Promise<string> {
  const iat = nowSeconds()
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    sid: 'session-1',
    jti: crypto.randomUUID(),
    iat,
    exp: iat + 900,
    ...claims,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: current.kid, typ: 'at+jwt', ...header })
    .sign(key)
}

/** `because` matches the logged cause, to prove which check refused the token. */
async function expectInvalid(service: TokenService, token: string, because?: RegExp) {
  const error = await service.verifyAccess(token).then(
    () => undefined,
    (failure: unknown) => failure,
  )
  expect(error).toBeInstanceOf(AuthErrors.InvalidToken)
  if (because) expect(String((error as Error).cause)).toMatch(because)
}

function segments(token: string): [string, string, string] {
  const [header = '', payload = '', signature = ''] = token.split('.')
  return [header, payload, signature]
}

const base64urlJson = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

let current: TestKey
let tokens: TokenService

beforeAll(async () => {
  current = await makeKey('key-2030')
  tokens = await createService()
})

describe('signAccess and verifyAccess', () => {
  it('issues an at+jwt with our kid and a 15-minute default lifetime', async () => {
    now = START
    const issued = await tokens.signAccess({ sub: 'user-1', sid: 'session-1' })
    expect(decodeProtectedHeader(issued.token)).toEqual({
      alg: 'EdDSA',
      kid: 'key-2030',
      typ: 'at+jwt',
    })
    expect(issued.expiresIn).toBe(900)
    expect(issued.claims.exp - issued.claims.iat).toBeLessThanOrEqual(900)
    expect(issued.claims.iat).toBe(nowSeconds())
    expect(issued.claims.jti).toMatch(/^[0-9a-f-]{36}$/)
    const verified = await tokens.verifyAccess(issued.token)
    expect(verified).toEqual(issued.claims)
    expect(verified).toMatchObject({ sub: 'user-1', sid: 'session-1', custom: {} })
  })

  it('carries scope, with no custom claims when no extension declares any', async () => {
    const { token } = await tokens.signAccess({ sub: 'u', sid: 's', scope: ['read'] })
    expect(await tokens.verifyAccess(token)).toMatchObject({ custom: {}, scope: ['read'] })
  })

  it('verifies independently of jose: Node crypto checks the signature with the published JWK', async () => {
    const { token } = await tokens.signAccess({ sub: 'user-1', sid: 'session-1' })
    const [header, payload, signature] = segments(token)
    const jwk = tokens.jwks().keys.find((key) => key.kid === decodeProtectedHeader(token).kid)
    expect(jwk).toBeDefined()
    const publicKey = createPublicKey({ key: { ...jwk }, format: 'jwk' })
    const signed = Buffer.from(`${header}.${payload}`)
    const signatureBytes = Buffer.from(signature, 'base64url')
    expect(cryptoVerify(null, signed, publicKey, signatureBytes)).toBe(true)
    const tampered = Buffer.from(`${header}.${payload.slice(0, -2)}AA`)
    expect(cryptoVerify(null, tampered, publicKey, signatureBytes)).toBe(false)
  })
})

describe('JWT-01 alg none', () => {
  it('rejects an unsigned token with otherwise valid claims', async () => {
    const [, payload] = segments(await forge())
    const header = base64urlJson({ alg: 'none', typ: 'at+jwt', kid: current.kid })
    await expectInvalid(tokens, `${header}.${payload}.`, /"alg"/)
  })
})

describe('JWT-02 key confusion', () => {
  it('rejects HS256 tokens keyed with our public key bytes', async () => {
    const [publicJwk] = tokens.jwks().keys
    const pem = createPublicKey({ key: { ...publicJwk }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString()
    const secrets = [
      new TextEncoder().encode(pem),
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      Buffer.from(publicJwk?.x ?? '', 'base64url'),
    ]
    for (const secret of secrets) {
      await expectInvalid(tokens, await forge({}, { alg: 'HS256' }, secret), /"alg"/)
    }
  })
})

describe('JWT-03 claim validation', () => {
  it('rejects exp 61 s ago and nbf 61 s ahead, accepts exp 20 s ago within the 30 s tolerance', async () => {
    now = START
    const t = nowSeconds()
    await expectInvalid(tokens, await forge({ iat: t - 961, exp: t - 61 }))
    await expectInvalid(tokens, await forge({ nbf: t + 61 }))
    const recent = await forge({ iat: t - 920, exp: t - 20 })
    await expect(tokens.verifyAccess(recent)).resolves.toMatchObject({ exp: t - 20 })
  })

  it('rejects wrong or missing aud and wrong iss', async () => {
    await expectInvalid(tokens, await forge({ aud: 'https://other.example.test' }))
    await expectInvalid(tokens, await forge({ aud: undefined }))
    await expectInvalid(tokens, await forge({ iss: 'https://evil.example.test' }))
    await expectInvalid(tokens, await forge({ iss: undefined }))
  })

  it('rejects tokens missing sub, sid, jti, iat or exp', async () => {
    for (const claim of ['sub', 'sid', 'jti', 'iat', 'exp']) {
      await expectInvalid(tokens, await forge({ [claim]: undefined }))
    }
  })

  it('expires an issued token by the injected clock, honouring the tolerance', async () => {
    now = START
    const service = await createService({ cacheSize: 0 })
    const { token } = await service.signAccess({ sub: 'u', sid: 's' })
    now = new Date(START.getTime() + (900 + 29) * 1000)
    await expect(service.verifyAccess(token)).resolves.toMatchObject({ sub: 'u' })
    now = new Date(START.getTime() + (900 + 30) * 1000)
    await expectInvalid(service, token)
    now = START
  })
})

describe('JWT-04 token typing', () => {
  it('rejects a token signed by our key whose typ is not at+jwt', async () => {
    await expectInvalid(tokens, await forge({}, { typ: 'JWT' }))
    await expectInvalid(tokens, await forge({}, { typ: 'refresh+jwt' }))
    await expectInvalid(tokens, await forge({}, { typ: undefined }))
  })
})

describe('JWT-05 key sources', () => {
  let listener: Server
  let hits = 0
  let attackerUrl = ''

  beforeAll(async () => {
    listener = createServer((_request, response) => {
      hits++
      response.setHeader('content-type', 'application/json')
      response.end('{"keys":[]}')
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    attackerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/jwks.json`
  })

  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve))
  })

  it('rejects jku, x5u and embedded jwk headers without fetching anything', async () => {
    const attacker = await makeKey('attacker')
    const candidates = [
      await forge({}, { kid: 'attacker', jku: attackerUrl }, attacker.privateKey),
      await forge({}, { kid: 'attacker', x5u: attackerUrl }, attacker.privateKey),
      await forge({}, { kid: 'attacker', jwk: attacker.publicJwk }, attacker.privateKey),
      // Signed by our own key: only the explicit header check stops these.
      await forge({}, { jku: attackerUrl }),
      await forge({}, { x5u: attackerUrl }),
      await forge({}, { jwk: current.publicJwk }),
    ]
    for (const token of candidates) await expectInvalid(tokens, token, /must not carry/)
    expect(hits).toBe(0)
  })

  it('rejects an unknown or missing kid', async () => {
    await expectInvalid(tokens, await forge({}, { kid: 'key-1999' }), /unknown or missing kid/)
    await expectInvalid(tokens, await forge({}, { kid: undefined }), /unknown or missing kid/)
  })

  it('refuses to create HS256 with a secret under 32 bytes', async () => {
    const hs256 = { algorithm: 'HS256' as const, privateKeys: [] }
    await expect(createService({ ...hs256, secret: 'x'.repeat(31) })).rejects.toBeInstanceOf(
      AcmeConfigError,
    )
    await expect(createService({ ...hs256 })).rejects.toBeInstanceOf(AcmeConfigError)
    const service = await createService({ ...hs256, secret: 'k'.repeat(32) })
    const { token } = await service.signAccess({ sub: 'u', sid: 's' })
    await expect(service.verifyAccess(token)).resolves.toMatchObject({ sub: 'u' })
    expect(service.jwks()).toEqual({ keys: [] })
  })
})

describe('JWT-06 tampering', () => {
  it('rejects a token whose payload has one character changed', async () => {
    const { token } = await tokens.signAccess({ sub: 'user-1', sid: 'session-1' })
    const [header, payload, signature] = segments(token)
    const decoded = Buffer.from(payload, 'base64url').toString()
    const retargeted = Buffer.from(decoded.replace('user-1', 'user-2')).toString('base64url')
    expect(retargeted).not.toBe(payload)
    await expectInvalid(tokens, `${header}.${retargeted}.${signature}`, /signature/)
    const middle = Math.floor(payload.length / 2)
    const flipped = payload[middle] === 'A' ? 'B' : 'A'
    const oneCharacter = `${payload.slice(0, middle)}${flipped}${payload.slice(middle + 1)}`
    await expectInvalid(tokens, `${header}.${oneCharacter}.${signature}`, /signature/)
  })
})

describe('key rotation', () => {
  it('keeps verifying tokens of a retired key and signs new ones with the new kid', async () => {
    const next = await makeKey('key-2031')
    const before = await tokens.signAccess({ sub: 'user-1', sid: 'session-1' })
    const rotated = await createService({
      privateKeys: [next.privateJwk],
      verificationKeys: [current.publicJwk],
    })
    await expect(rotated.verifyAccess(before.token)).resolves.toMatchObject({ sub: 'user-1' })
    const after = await rotated.signAccess({ sub: 'user-1', sid: 'session-1' })
    expect(decodeProtectedHeader(after.token).kid).toBe('key-2031')
    expect(rotated.jwks().keys.map((key) => key.kid)).toEqual(['key-2031', 'key-2030'])
    const forgotten = await createService({ privateKeys: [next.privateJwk] })
    await expectInvalid(forgotten, before.token)
  })

  it('generates a key when none is configured', async () => {
    const service = await createService({ privateKeys: undefined })
    const { token } = await service.signAccess({ sub: 'u', sid: 's' })
    await expect(service.verifyAccess(token)).resolves.toMatchObject({ sub: 'u' })
    const [published] = service.jwks().keys
    expect(decodeProtectedHeader(token).kid).toBe(published?.kid)
  })

  it('rejects misconfigured keys at create', async () => {
    const { kid: _kid, ...noKid } = current.privateJwk
    const mismatched = { ...current.privateJwk, x: (await makeKey('other')).publicJwk.x }
    const es256 = await makeKey('es', 'ES256')
    for (const privateKeys of [[noKid], [current.publicJwk], [mismatched], [es256.privateJwk]]) {
      await expect(createService({ privateKeys })).rejects.toBeInstanceOf(AcmeConfigError)
    }
    await expect(
      createService({ privateKeys: [current.privateJwk], verificationKeys: [current.publicJwk] }),
    ).rejects.toBeInstanceOf(AcmeConfigError)
  })
})

describe('verified-token cache', () => {
  it('returns the cached claims for a hot token', async () => {
    now = START
    const { token } = await tokens.signAccess({ sub: 'user-1', sid: 'session-1' })
    const first = await tokens.verifyAccess(token)
    expect(await tokens.verifyAccess(token)).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
  })

  it('answers at once only for a token it has verified, and not once it expired', async () => {
    now = START
    const { token } = await tokens.signAccess({ sub: 'user-2', sid: 'session-2' })
    expect(tokens.verifiedAccess(token)).toBeUndefined()
    const claims = await tokens.verifyAccess(token)
    expect(tokens.verifiedAccess(token)).toBe(claims)
    expect(tokens.verifiedAccess(`${token.slice(0, -2)}xx`)).toBeUndefined()
    now = new Date(START.getTime() + 2 * 3_600_000)
    expect(tokens.verifiedAccess(token)).toBeUndefined()
    now = START
  })

  it('never takes a token for another that ends with the same characters', () => {
    now = START
    const claims = { exp: nowSeconds() + 60 }
    const cache = new VerifiedTokenCache<{ exp: number }>({
      maxEntries: 10,
      toleranceSeconds: 0,
      clock,
    })
    const tail = 's'.repeat(64)
    cache.set(`header.payload-a.${tail}`, claims)
    expect(cache.get(`header.payload-b.${tail}`)).toBeUndefined()
    expect(cache.get(`header.payload-a.${tail}`)).toBe(claims)
  })

  it('keeps a recently used entry through half the cache of newer ones', () => {
    now = START
    const claims = { exp: nowSeconds() + 60 }
    const cache = new VerifiedTokenCache<{ exp: number }>({
      maxEntries: 4,
      toleranceSeconds: 0,
      clock,
    })
    for (const token of ['a', 'b', 'c', 'd']) cache.set(token, claims)
    expect(cache.get('a')).toBe(claims)
    cache.set('e', claims)
    cache.set('f', claims)
    expect(cache.get('a')).toBe(claims)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('c')).toBeUndefined()
  })

  it('refuses an entry once exp plus tolerance has passed by the clock', () => {
    now = START
    const cache = new VerifiedTokenCache<AccessClaims>({
      maxEntries: 10,
      toleranceSeconds: 30,
      clock,
    })
    const claims = {
      sub: 'u',
      sid: 's',
      jti: 'j',
      iat: nowSeconds(),
      exp: nowSeconds() + 60,
      custom: {},
    }
    cache.set('token', claims)
    expect(cache.get('token')).toBe(claims)
    now = new Date(START.getTime() + 89_000)
    expect(cache.get('token')).toBe(claims)
    now = new Date(START.getTime() + 90_000)
    expect(cache.get('token')).toBeUndefined()
    expect(cache.size).toBe(0)
    now = START
  })

  it('evicts the least recently used entry and can be disabled', () => {
    now = START
    const claims = { exp: nowSeconds() + 60 }
    const cache = new VerifiedTokenCache<{ exp: number }>({
      maxEntries: 2,
      toleranceSeconds: 0,
      clock,
    })
    cache.set('a', claims)
    cache.set('b', claims)
    cache.get('a')
    cache.set('c', claims)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBe(claims)
    expect(cache.get('c')).toBe(claims)
    const disabled = new VerifiedTokenCache<{ exp: number }>({
      maxEntries: 0,
      toleranceSeconds: 0,
      clock,
    })
    disabled.set('a', claims)
    expect(disabled.get('a')).toBeUndefined()
  })
})

describe('jwks', () => {
  it('publishes no private members for EdDSA, ES256 or RS256', async () => {
    const services = [
      tokens,
      await createService({ algorithm: 'ES256', privateKeys: undefined }),
      await createService({ algorithm: 'RS256', privateKeys: undefined }),
    ]
    for (const service of services) {
      const { keys } = service.jwks()
      expect(keys.length).toBeGreaterThan(0)
      for (const key of keys) {
        for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member)
        expect(key).toMatchObject({ use: 'sig', kid: expect.any(String) })
      }
    }
  })

  it('hands out copies that cannot change the published set', () => {
    const first = tokens.jwks()
    first.keys[0] = { kty: 'oct', k: 'secret' }
    expect(tokens.jwks().keys[0]).toMatchObject({ kty: 'OKP', kid: 'key-2030' })
  })
})
