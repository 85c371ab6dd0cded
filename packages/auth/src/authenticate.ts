import { apiKeyRule, getRequestContext, type RouteCheckFactory } from '@acme/core'
import type { FastifyRequest } from 'fastify'
import { AuthErrors } from './errors.js'
import type { AuthExtensions } from './extensions.js'
import { API_KEY_PREFIX } from './services/api-keys.js'
import type { RevocationList } from './services/revocations.js'
import type { TokenService } from './services/tokens.js'
import type { ApiKeyPrincipal, AuthServices, UserPrincipal } from './types.js'

/** `Bearer <token68>` (RFC 6750): tested, then sliced, so no match array per request. */
const BEARER = /^Bearer [A-Za-z0-9._~+/-]+=*$/
const BEARER_PREFIX_LENGTH = 'Bearer '.length

const challenge = (error?: 'invalid_token') => ({
  'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer',
})

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  return BEARER.test(header) ? header.slice(BEARER_PREFIX_LENGTH) : null
}

/**
 * An API key from `x-api-key`, or from `Authorization: Bearer` when it has the key prefix (an
 * access token is a JWT, which starts with `eyJ`, never `ak_`). Null when neither is present; a
 * repeated or empty `x-api-key` is returned as an empty string, so it fails as an invalid key.
 */
export function apiKeyCredential(request: FastifyRequest, bearer: string | null): string | null {
  const header = request.headers['x-api-key']
  if (header !== undefined) return typeof header === 'string' ? header : ''
  return bearer?.startsWith(API_KEY_PREFIX) ? bearer : null
}

export interface AuthenticateDependencies {
  tokens: TokenService
  revocations: RevocationList
  requireByDefault: boolean
  apiKeys: Pick<AuthServices['apiKeys'], 'authenticate'>
  extensions: AuthExtensions
}

/**
 * The authentication check of each route that is not public, built once per route (its mode and
 * API key rule read then, not per request). It runs before the body is read. The token is
 * verified once per token (the token service caches verified tokens) and checked against the
 * in-memory revocation list, so an authenticated request costs no database or Redis round trip;
 * with the token warm it answers synchronously (no promise). API keys are looked up through the
 * key service's short-lived cache, for the same reason.
 */
export function authenticationCheck(deps: AuthenticateDependencies): RouteCheckFactory {
  return (route) => {
    const mode = route.config.auth ?? (deps.requireByDefault ? 'required' : 'optional')
    if (mode === 'public') return null
    const keysDenied = apiKeyRule(route.config) === 'deny'
    return (request) => authenticate(deps, request, mode, keysDenied)
  }
}

function authenticate(
  deps: AuthenticateDependencies,
  request: FastifyRequest,
  mode: 'required' | 'optional',
  keysDenied: boolean,
): Promise<void> | undefined {
  const warm = warmClaims(deps, request)
  if (warm !== undefined) {
    admitToken(deps, request, warm)
    return undefined
  }
  const token = bearerToken(request)
  const key = apiKeyCredential(request, token)
  if (key !== null) {
    // Refused before the lookup: a route closed to keys costs nothing to a flood of them.
    if (keysDenied) throw new AuthErrors.ApiKeyNotAllowed()
    return authenticateKey(deps, request, key)
  }
  if (token === null) {
    if (mode === 'required') throw new AuthErrors.Unauthenticated({ headers: challenge() })
    return undefined
  }
  return verifyThenAdmit(deps, request, token)
}

/**
 * The claims of a bearer token verified before, looked up before the header is parsed: a token
 * in the cache passed the header's syntax check when it was verified, so the common request
 * skips that regex pass over a few hundred characters. An API key header takes precedence.
 */
function warmClaims(
  deps: AuthenticateDependencies,
  request: FastifyRequest,
): AccessClaims | undefined {
  if (request.headers['x-api-key'] !== undefined) return undefined
  const header = request.headers.authorization
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined
  return deps.tokens.verifiedAccess(header.slice(BEARER_PREFIX_LENGTH))
}

type AccessClaims = Awaited<ReturnType<TokenService['verifyAccess']>>

async function verifyThenAdmit(
  deps: AuthenticateDependencies,
  request: FastifyRequest,
  token: string,
): Promise<void> {
  let claims: AccessClaims
  try {
    claims = await deps.tokens.verifyAccess(token)
  } catch {
    throw new AuthErrors.InvalidToken({ headers: challenge('invalid_token') })
  }
  admitToken(deps, request, claims)
}

function admitToken(
  deps: AuthenticateDependencies,
  request: FastifyRequest,
  claims: AccessClaims,
): void {
  if (deps.revocations.isRevoked(claims.sid)) {
    throw new AuthErrors.InvalidToken({ headers: challenge('invalid_token') })
  }
  request.user = { id: claims.sub }
  request.session = { id: claims.sid }
  const principal = { type: 'user', userId: claims.sub, sessionId: claims.sid } as UserPrincipal
  if (deps.extensions.enrichesPrincipals) {
    deps.extensions.enrich(principal, { type: 'token', claims: claims.custom })
  }
  request.principal = principal
  const context = getRequestContext()
  if (context) context.user = { id: claims.sub }
}

async function authenticateKey(
  deps: AuthenticateDependencies,
  request: FastifyRequest,
  key: string,
): Promise<void> {
  const identity = await deps.apiKeys.authenticate(key)
  // The same answer as a bad access token: no hint whether the key exists.
  if (!identity) throw new AuthErrors.InvalidToken({ headers: challenge('invalid_token') })
  request.user = { id: identity.ownerId }
  request.session = null
  // Typed with the fields extensions add, which enrichPrincipal sets just below.
  const principal = {
    type: 'apiKey',
    keyId: identity.keyId,
    userId: identity.ownerId,
    scopes: identity.scopes,
  } as ApiKeyPrincipal
  if (deps.extensions.enrichesPrincipals) {
    deps.extensions.enrich(principal, { type: 'apiKey', columns: identity.columns })
  }
  request.principal = principal
  const context = getRequestContext()
  if (context) context.user = { id: identity.ownerId }
}
