import { randomUUID } from 'node:crypto'
import { AcmeConfigError } from '@acme/core'
import { type JWK, type JWTHeaderParameters, jwtVerify, SignJWT } from 'jose'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'
import {
  type KeyMaterial,
  loadSigningKeys,
  type SigningAlgorithm,
  type SigningKeys,
} from './keys.js'
import { DEFAULT_TOKEN_CACHE_SIZE, VerifiedTokenCache } from './token-cache.js'

export type { SigningAlgorithm } from './keys.js'

export interface TokenServiceOptions {
  issuer: string
  audience: string
  /** Default 900 (15 min). */
  accessTtlSeconds?: number
  /** Default 30. */
  clockToleranceSeconds?: number
  algorithm: SigningAlgorithm
  /**
   * Asymmetric algorithms: private JWKs with `kid`; the first signs, all verify, so keys rotate
   * without logging anyone out. If none are given, one key is generated at startup: fine for a
   * single dev instance, wrong for several instances or restarts (tokens stop verifying).
   */
  privateKeys?: JWK[]
  /** Public JWKs of keys being retired: they still verify, never sign. */
  verificationKeys?: JWK[]
  /** HS256 only: at least 32 bytes (JWT-05). */
  secret?: string
  /** Verified tokens remembered; default 10 000, 0 disables. */
  cacheSize?: number
  clock: Clock
  /**
   * Claims other plugins add (see `AuthExtension.claims`), with the schema each verified value
   * must match. Read at every verification, so extensions may register after the service is made.
   */
  customClaims?: () => ReadonlyMap<string, { schema: z.ZodType }>
}

export interface AccessClaims {
  sub: string
  sid: string
  jti: string
  iat: number
  exp: number
  scope?: string[]
  /** The claims extensions declared (e.g. tenancy's `tid`), validated; others are dropped. */
  custom: Readonly<Record<string, unknown>>
}

export const ACCESS_TOKEN_TYPE = 'at+jwt'
export const DEFAULT_ACCESS_TTL_SECONDS = 900
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30
// Far above any token this service issues; bounds the work an oversized header can cause.
const MAX_TOKEN_LENGTH = 8192
// Headers that tell a verifier where to fetch or find a key: the key must come from our set only.
const KEY_SOURCE_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const

const accessPayload = z.object({
  sub: z.string().min(1),
  sid: z.string().min(1),
  jti: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  scope: z.array(z.string()).optional(),
})

interface ResolvedOptions {
  issuer: string
  audience: string
  accessTtlSeconds: number
  clockToleranceSeconds: number
  clock: Clock
  customClaims: () => ReadonlyMap<string, { schema: z.ZodType }>
}

const NO_CUSTOM_CLAIMS: ReadonlyMap<string, { schema: z.ZodType }> = new Map()

export class TokenService {
  readonly #options: ResolvedOptions
  readonly #keys: SigningKeys
  readonly #cache: VerifiedTokenCache<AccessClaims>

  private constructor(options: ResolvedOptions, keys: SigningKeys, cacheSize: number) {
    this.#options = options
    this.#keys = keys
    this.#cache = new VerifiedTokenCache({
      maxEntries: cacheSize,
      toleranceSeconds: options.clockToleranceSeconds,
      clock: options.clock,
    })
  }

  /** Validates the options and imports the keys; throws AcmeConfigError naming each problem. */
  static async create(options: TokenServiceOptions): Promise<TokenService> {
    const resolved: ResolvedOptions = {
      issuer: options.issuer,
      audience: options.audience,
      accessTtlSeconds: options.accessTtlSeconds ?? DEFAULT_ACCESS_TTL_SECONDS,
      clockToleranceSeconds: options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      clock: options.clock,
      customClaims: options.customClaims ?? (() => NO_CUSTOM_CLAIMS),
    }
    const cacheSize = options.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE
    const problems = describeOptionProblems(resolved, cacheSize)
    if (problems.length > 0) throw new AcmeConfigError('@acme/auth', problems)
    return new TokenService(resolved, await loadSigningKeys(options), cacheSize)
  }

  async signAccess(claims: {
    sub: string
    sid: string
    scope?: string[]
    /** Claims an extension declared; an undeclared name is a programming error. */
    custom?: Record<string, unknown>
  }): Promise<{ token: string; expiresIn: number; claims: AccessClaims }> {
    const { issuer, audience, accessTtlSeconds, clock, customClaims } = this.#options
    const custom = { ...claims.custom }
    const declared = customClaims()
    for (const name of Object.keys(custom)) {
      if (!declared.has(name))
        throw new Error(`signAccess: no extension declares the claim "${name}"`)
    }
    const iat = Math.floor(clock().getTime() / 1000)
    const issued: AccessClaims = {
      sub: claims.sub,
      sid: claims.sid,
      jti: randomUUID(),
      iat,
      exp: iat + accessTtlSeconds,
      ...(claims.scope === undefined ? {} : { scope: [...claims.scope] }),
      custom,
    }
    const { sid, scope } = issued
    const token = await new SignJWT({
      ...custom,
      sid,
      ...(scope && { scope }),
    })
      .setProtectedHeader({
        alg: this.#keys.algorithm,
        kid: this.#keys.signing.kid,
        typ: ACCESS_TOKEN_TYPE,
      })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(issued.sub)
      .setJti(issued.jti)
      .setIssuedAt(issued.iat)
      .setExpirationTime(issued.exp)
      .sign(this.#keys.signing.key)
    return { token, expiresIn: accessTtlSeconds, claims: freeze(issued) }
  }

  /** The claims of a valid access token; AuthErrors.InvalidToken for anything else. */
  async verifyAccess(token: string): Promise<AccessClaims> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new AuthErrors.InvalidToken()
    }
    const cached = this.#cache.get(token)
    if (cached) return cached
    const claims = await this.#verifyUncached(token)
    this.#cache.set(token, claims)
    return claims
  }

  /**
   * The claims of an access token already verified and still current, or undefined (verify it
   * with verifyAccess). Synchronous, so a warm request's check needs no promise.
   */
  verifiedAccess(token: string): AccessClaims | undefined {
    return this.#cache.get(token)
  }

  /** Public keys only, for `/.well-known/jwks.json`. Empty for HS256. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.publicJwks.map((jwk) => ({ ...jwk })) }
  }

  async #verifyUncached(token: string): Promise<AccessClaims> {
    const { issuer, audience, clockToleranceSeconds, clock } = this.#options
    try {
      const { payload } = await jwtVerify(token, (header) => this.#keyFor(header), {
        algorithms: [this.#keys.algorithm],
        typ: ACCESS_TOKEN_TYPE,
        issuer,
        audience,
        requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
        clockTolerance: clockToleranceSeconds,
        currentDate: clock(),
      })
      const parsed = accessPayload.parse(payload)
      return freeze({ ...parsed, custom: this.#customClaimsOf(payload) })
    } catch (error) {
      // The cause is logged, never sent; jose's messages name the failed check, not the token.
      throw new AuthErrors.InvalidToken({ cause: error })
    }
  }

  #customClaimsOf(payload: Record<string, unknown>): Record<string, unknown> {
    const custom: Record<string, unknown> = {}
    for (const [name, { schema }] of this.#options.customClaims()) {
      if (payload[name] === undefined) continue
      custom[name] = schema.parse(payload[name])
    }
    return custom
  }

  #keyFor(header: JWTHeaderParameters): KeyMaterial {
    for (const name of KEY_SOURCE_HEADERS) {
      if (header[name] !== undefined) throw new Error(`access tokens must not carry "${name}"`)
    }
    const key = typeof header.kid === 'string' ? this.#keys.verifying.get(header.kid) : undefined
    if (key === undefined) throw new Error('unknown or missing kid')
    return key
  }
}

function describeOptionProblems(options: ResolvedOptions, cacheSize: number): string[] {
  const problems: string[] = []
  if (!options.issuer) problems.push('tokens.issuer is required')
  if (!options.audience) problems.push('tokens.audience is required')
  if (!Number.isInteger(options.accessTtlSeconds) || options.accessTtlSeconds <= 0) {
    problems.push('tokens.accessTtlSeconds must be a positive integer')
  }
  const tolerance = options.clockToleranceSeconds
  if (!Number.isInteger(tolerance) || tolerance < 0) {
    problems.push('tokens.clockToleranceSeconds must be a non-negative integer')
  }
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    problems.push('tokens.cacheSize must be a non-negative integer')
  }
  if (typeof options.clock !== 'function') problems.push('tokens.clock is required')
  return problems
}

// Claims are shared with the cache: freezing stops one caller's edit from reaching the next.
function freeze(claims: AccessClaims): AccessClaims {
  if (claims.scope) Object.freeze(claims.scope)
  Object.freeze(claims.custom)
  return Object.freeze(claims)
}
