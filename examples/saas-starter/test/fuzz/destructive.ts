import type { Response } from './client.js'
import type { Fixtures, Owner } from './fixtures.js'

/**
 * Puts back what a successful request (`response`, a 2xx) destroyed; may hand back a whole new
 * owner.
 */
export type Restore = (
  fixtures: Fixtures,
  owner: Owner,
  response: Response,
) => Promise<Owner | undefined>

/** For operations without path parameters: a new account and tenant, nothing more. */
const fresh: Restore = (fixtures, owner) => fixtures.owner(owner.label, { accountOnly: true })
const nothing: Restore = async () => undefined
/** A new session if the owner's has ended (a lenient logout answers 204 for any token). */
const relogin: Restore = async (fixtures, owner) => {
  if (!(await fixtures.signedIn(owner))) await fixtures.relogin(owner)
  return undefined
}
/** A refresh hands out the next pair: keep it (the old refresh token is spent). */
const nextPair: Restore = async (fixtures, owner, response) => {
  const pair = response.json() as { accessToken?: unknown; refreshToken?: unknown }
  if (typeof pair.accessToken === 'string' && typeof pair.refreshToken === 'string') {
    owner.access = pair.accessToken
    owner.refresh = pair.refreshToken
  } else {
    await fixtures.relogin(owner)
  }
  return undefined
}
const redo =
  (step: (fixtures: Fixtures, owner: Owner) => Promise<void>): Restore =>
  async (fixtures, owner) => {
    await step(fixtures, owner)
    return undefined
  }

/**
 * Operations that would wreck the rest of the run: each runs after all the others, on an owner
 * (user, tenant, rows) of its own, and after every 2xx its restore puts back what the request
 * ended or deleted, so the next variant hits a real row again. Operations not listed share one
 * owner; a new operation that ends or deletes something belongs here.
 */
export const DESTRUCTIVE: Record<string, Restore> = {
  'DELETE /tenants/{tenantId}': redo((fixtures, owner) => fixtures.newTenant(owner)),
  // The last owner may not leave (409), so this only guards against that rule breaking.
  'DELETE /tenants/{tenantId}/membership': redo((fixtures, owner) => fixtures.newTenant(owner)),
  'DELETE /tenants/{tenantId}/members/{userId}': redo((fixtures, owner) =>
    fixtures.addMember(owner),
  ),
  'DELETE /tenants/{tenantId}/invitations/{invitationId}': redo((fixtures, owner) =>
    fixtures.newInvitation(owner),
  ),
  'DELETE /tenants/{tenantId}/api-keys/{keyId}': redo((fixtures, owner) =>
    fixtures.newTenantKey(owner),
  ),
  'DELETE /auth/api-keys/{keyId}': redo((fixtures, owner) => fixtures.newUserKey(owner)),
  'DELETE /rbac/roles/{roleId}': redo((fixtures, owner) => fixtures.newRole(owner)),
  'DELETE /tenants/{tenantId}/webhooks/endpoints/{endpointId}': redo((fixtures, owner) =>
    fixtures.newEndpoint(owner),
  ),
  'DELETE /tenants/{tenantId}/files/{fileId}': redo((fixtures, owner) => fixtures.newFile(owner)),
  'DELETE /auth/sessions/{sessionId}': redo((fixtures, owner) => fixtures.newOtherSession(owner)),
  'POST /auth/logout': relogin,
  'POST /auth/logout-all': relogin,
  // A refresh spends the token; presenting it again would end the session (reuse detection).
  'POST /auth/refresh': nextPair,
  'POST /auth/password/change': fresh,
  'PATCH /auth/me/email': fresh,
  'POST /auth/mfa/totp/enable': fresh,
  'POST /auth/mfa/totp/disable': fresh,
  'POST /auth/mfa/totp/setup': nothing,
  'POST /auth/mfa/recovery-codes': nothing,
  // Wrong passwords for the owner's address lock the account (per-account throttle).
  'POST /auth/login': nothing,
}
