import { getRequestContext } from '@acme/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthErrors } from './errors.js'
import type { RevocationList } from './services/revocations.js'
import type { TokenService } from './services/tokens.js'

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/

const challenge = (error?: 'invalid_token') => ({
  'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer',
})

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  return BEARER.exec(header)?.[1] ?? null
}

/**
 * Runs on every request before its body is read. The token is verified once per token (the
 * token service caches verified tokens) and checked against the in-memory revocation list, so
 * an authenticated request costs no database or Redis round trip.
 */
export function createAuthenticateHook(
  tokens: TokenService,
  revocations: RevocationList,
  requireByDefault: boolean,
) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply) {
    const mode = request.routeOptions.config?.auth ?? (requireByDefault ? 'required' : 'optional')
    if (mode === 'public') return
    const token = bearerToken(request)
    if (token === null) {
      if (mode === 'required') throw new AuthErrors.Unauthenticated({ headers: challenge() })
      return
    }
    let claims: Awaited<ReturnType<TokenService['verifyAccess']>>
    try {
      claims = await tokens.verifyAccess(token)
    } catch {
      throw new AuthErrors.InvalidToken({ headers: challenge('invalid_token') })
    }
    if (revocations.isRevoked(claims.sid)) {
      throw new AuthErrors.InvalidToken({ headers: challenge('invalid_token') })
    }
    request.user = { id: claims.sub }
    request.session = { id: claims.sid }
    request.principal = { type: 'user', userId: claims.sub, sessionId: claims.sid }
    const context = getRequestContext()
    if (context) context.user = { id: claims.sub }
  }
}
