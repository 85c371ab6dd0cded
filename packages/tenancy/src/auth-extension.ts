import type { AuthExtension } from '@acme/auth'
import { z } from 'zod'
import type { ActiveTenants } from './services/active-tenants.js'

/**
 * What tenancy adds to auth, through auth's extension point: the `tid` claim (the session's
 * active tenant, read at every refresh), the tenant an API key is bound to, and `tenantId` on
 * the principal from either.
 */
export function tenancyAuthExtension(activeTenants: ActiveTenants): AuthExtension {
  return {
    name: '@acme/tenancy',
    claims: { tid: z.uuid() },
    async tokenClaims({ sessionId }, reason) {
      // A new session works in no tenant until it switches: no query at login.
      if (reason === 'login') return {}
      return { tid: await activeTenants.of(sessionId) }
    },
    apiKeyColumns: ['tenantId'],
    enrichPrincipal(principal, source) {
      const tenantId = source.type === 'token' ? source.claims.tid : source.columns.tenantId
      principal.tenantId = typeof tenantId === 'string' ? tenantId : null
    },
  }
}
