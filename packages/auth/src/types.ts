import type { AuthExtension } from './extensions.js'
import type { ApiKeyIdentity, ApiKeyRecord, NewApiKey } from './services/api-keys.js'
import type {
  ActiveSession,
  DeviceInfo,
  IssuedRefresh,
  ReissuedAccess,
} from './services/sessions.js'
import type { AccessClaims } from './services/tokens.js'

/** Who a request acts as, after authentication. */
export interface AuthUser {
  id: string
}

export interface AuthSessionRef {
  id: string
}

/**
 * A user signed in with a session. Plugins add fields by augmentation and set them in
 * `AuthExtension.enrichPrincipal` (e.g. @acme/tenancy's `tenantId`).
 */
export interface UserPrincipal {
  type: 'user'
  userId: string
  sessionId: string
}

/** A machine using one of a user's API keys; augmentable like `UserPrincipal`. */
export interface ApiKeyPrincipal {
  type: 'apiKey'
  keyId: string
  userId: string
  scopes: string[]
}

/** A user signed in with a session, or a machine using one of that user's API keys. */
export type Principal = UserPrincipal | ApiKeyPrincipal

/**
 * `app.auth`: what hosts and other plugins may call. Declared as plain interfaces so the
 * published types stay small (the classes behind them carry the Prisma model types).
 */
export interface AuthServices {
  passwords: {
    check(password: string): Promise<void>
    hash(password: string): Promise<string>
    verify(hash: string | null, password: string): Promise<{ valid: boolean; needsRehash: boolean }>
  }
  tokens: {
    /** `custom`: claims an extension declared (`AuthExtension.claims`). */
    signAccess(claims: { sub: string; sid: string; custom?: Record<string, unknown> }): Promise<{
      token: string
      expiresIn: number
      claims: AccessClaims
    }>
    verifyAccess(token: string): Promise<AccessClaims>
    jwks(): { keys: Array<Record<string, unknown>> }
  }
  sessions: {
    start(userId: string, device: DeviceInfo): Promise<IssuedRefresh>
    rotate(refreshToken: string, device: DeviceInfo): Promise<IssuedRefresh>
    revoke(sessionId: string, reason: string): Promise<void>
    /** Ends the session a refresh token belongs to; false when the token is unknown. */
    revokeByRefreshToken(refreshToken: string, reason: string): Promise<boolean>
    /** E.g. when you suspend or delete a user: their tokens stop working at once. */
    revokeAllForUser(
      userId: string,
      reason: string,
      options?: { except?: string },
    ): Promise<string[]>
    listActive(userId: string): Promise<ActiveSession[]>
    isActive(sessionId: string): Promise<boolean>
    /**
     * For your own sensitive routes: 403 ACME_AUTH_REAUTHENTICATION_REQUIRED unless the session's
     * login (password proof) is at most `withinSeconds` old.
     */
    requireRecentAuthentication(sessionId: string, withinSeconds: number): Promise<void>
    /**
     * A new access token for the session, with the claims extensions hold for it now (e.g. after
     * @acme/tenancy stored its new tenant). A revoked or expired session answers 401
     * ACME_AUTH_INVALID_TOKEN.
     */
    reissue(sessionId: string): Promise<ReissuedAccess>
  }
  revocations: {
    isRevoked(sessionId: string): boolean
  }
  accounts: {
    /**
     * Suspends the user at once: every session revoked (their access tokens refused on the next
     * request, refresh refused), login refused with the same 401 as a wrong password, API keys
     * refused. False when there is no such user.
     */
    suspend(userId: string): Promise<boolean>
    /** Lets the user log in again (ended sessions stay ended). False when there is no such user. */
    reactivate(userId: string): Promise<boolean>
  }
  apiKeys: {
    /** The plaintext `key` is returned once and never stored. */
    create(ownerId: string, input: NewApiKey): Promise<{ key: string; record: ApiKeyRecord }>
    list(ownerId: string): Promise<ApiKeyRecord[]>
    /** Throws a 404 for an unknown, revoked or another user's key alike. */
    revoke(ownerId: string, keyId: string): Promise<void>
    authenticate(key: string): Promise<ApiKeyIdentity | null>
    /** Drops a key revoked by another plugin's query from this instance's cache at once. */
    forget(prefix: string): void
  }
  /**
   * Lets a plugin add token claims, API key columns and principal fields (see `AuthExtension`).
   * Call it while registering, before `ready()`; a reserved or taken name throws.
   */
  extend(extension: AuthExtension): void
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
  interface AcmeJobs {
    /** The background cleanup (see the README, "Cleanup"); `{}` runs it now. */
    'auth.cleanup': Record<string, never>
  }
  interface AcmeEvents {
    'user.registered': { userId: string }
    'user.logged_in': { userId: string; sessionId: string }
    'user.login_failed': { reason: 'invalid_credentials' }
    'session.revoked': { userId: string; sessionIds: string[]; reason: string }
    'auth.refresh_reuse_detected': { userId: string; sessionId: string }
    'auth.login_throttled': { scope: 'account' | 'ip' }
    'user.password_reset_requested': { userId: string }
    'user.password_changed': { userId: string; via: 'change' | 'reset' }
    'user.email_verified': { userId: string }
    'user.email_change_requested': { userId: string }
    'user.email_changed': { userId: string }
    'user.mfa_enabled': { userId: string }
    'user.mfa_disabled': { userId: string }
    'user.suspended': { userId: string }
    'user.reactivated': { userId: string }
    /** `userId` owns the key; `tenantId` when the key is bound to a tenant. Never the key. */
    'api_key.created': {
      keyId: string
      userId: string
      name: string
      scopes: string[]
      tenantId?: string
    }
    'api_key.revoked': { keyId: string; userId: string; tenantId?: string; by?: string }
  }
  interface AcmeMailTemplates {
    'auth.welcome': { name: string | null; loginUrl: string }
    'auth.account-exists': { loginUrl: string; resetUrl: string }
    'auth.password-reset': { resetUrl: string; expiresInMinutes: number }
    'auth.password-changed': { supportEmail: string | null }
    'auth.verify-email': { verifyUrl: string; expiresInHours: number }
    'auth.email-change-confirm': { confirmUrl: string; expiresInHours: number }
    'auth.email-change-in-use': { loginUrl: string }
    /** `newEmail` is masked (`n***@example.com`). */
    'auth.email-change-requested': {
      newEmail: string
      resetUrl: string
      supportEmail: string | null
    }
    /** `newEmail` is masked (`n***@example.com`). */
    'auth.email-changed': { newEmail: string; supportEmail: string | null }
    'auth.new-sign-in': {
      /** E.g. "2030-01-01 09:30 UTC". */
      time: string
      ip: string
      /** E.g. "Chrome on macOS". */
      device: string
      resetUrl: string
      supportEmail: string | null
    }
    'auth.mfa-enabled': { resetUrl: string; supportEmail: string | null }
    'auth.mfa-disabled': { resetUrl: string; supportEmail: string | null }
    'auth.refresh-reuse': { resetUrl: string; supportEmail: string | null }
  }
}
