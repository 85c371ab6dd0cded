import type { PasswordService } from './services/passwords.js'
import type { RevocationList } from './services/revocations.js'
import type { SessionService } from './services/sessions.js'
import type { TokenService } from './services/tokens.js'

/** Who a request acts as, after authentication. */
export interface AuthUser {
  id: string
}

export interface AuthSessionRef {
  id: string
}

export type Principal = { type: 'user'; userId: string; sessionId: string }

export interface AuthServices {
  passwords: PasswordService
  tokens: TokenService
  sessions: SessionService
  revocations: RevocationList
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, or null. */
    user: AuthUser | null
    /** The session (refresh-token family) the access token belongs to, or null. */
    session: AuthSessionRef | null
    principal: Principal | null
  }
  interface FastifyInstance {
    /** The auth services, for hosts and other plugins (sign tokens, revoke sessions). */
    readonly auth: AuthServices
  }
}

declare module '@acme/core' {
  interface AcmeEvents {
    'user.registered': { userId: string }
    'user.logged_in': { userId: string; sessionId: string }
    'user.login_failed': { reason: 'invalid_credentials' }
    'session.revoked': { userId: string; sessionIds: string[]; reason: string }
    'auth.refresh_reuse_detected': { userId: string; sessionId: string }
  }
  interface AcmeMailTemplates {
    'auth.welcome': { name: string | null; loginUrl: string }
    'auth.account-exists': { loginUrl: string; resetUrl: string }
  }
}
