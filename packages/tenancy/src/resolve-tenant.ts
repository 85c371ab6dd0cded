import type { FastifyRequest } from 'fastify'
import { TenancyErrors } from './errors.js'
import type { TenantResolverSetting } from './options.js'
import type { MembershipInfo } from './services/memberships.js'
import type { RequestTenant } from './types.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface ResolverContext {
  resolvers: readonly TenantResolverSetting[]
  header: string
  /** Tenant id of a slug (subdomains); null when none. */
  idBySlug: (slug: string) => Promise<string | null>
  membership: (tenantId: string, userId: string) => Promise<MembershipInfo | null>
}

interface Caller {
  userId: string
  /** The tenant the credential itself is bound to (a tenant's API key), if any. */
  boundTenantId: string | null
  /** The tenant the access token was issued for (`tid`), if any. */
  tokenTenantId: string | null
}

/** Reads auth's principal without depending on auth's types at runtime. */
function callerOf(request: FastifyRequest): Caller | null {
  const principal = (request as { principal?: unknown }).principal as
    | { type: 'user'; userId: string; tenantId?: string | null }
    | { type: 'apiKey'; userId: string; tenantId: string | null }
    | null
    | undefined
  if (!principal) return null
  if (principal.type === 'apiKey') {
    return {
      userId: principal.userId,
      boundTenantId: principal.tenantId,
      tokenTenantId: principal.tenantId,
    }
  }
  return {
    userId: principal.userId,
    boundTenantId: null,
    tokenTenantId: principal.tenantId ?? null,
  }
}

/** The tenant id the request names, by the first resolver that names one; null if none does. */
async function namedTenantId(
  request: FastifyRequest,
  caller: Caller,
  context: ResolverContext,
): Promise<string | null> {
  for (const resolver of context.resolvers) {
    let named: string | null = null
    if (resolver === 'path') {
      const value = (request.params as Record<string, unknown> | undefined)?.tenantId
      named = typeof value === 'string' ? value : null
    } else if (resolver === 'header') {
      const value = request.headers[context.header]
      named = typeof value === 'string' && value !== '' ? value : null
    } else if (resolver === 'token') {
      named = caller.tokenTenantId
    } else {
      const host = (request.hostname ?? '').toLowerCase().replace(/:\d+$/, '')
      const suffix = `.${resolver.baseDomain.toLowerCase()}`
      if (host.endsWith(suffix)) {
        const slug = host.slice(0, -suffix.length)
        if (/^[a-z0-9-]{1,63}$/.test(slug)) named = (await context.idBySlug(slug)) ?? 'unknown'
      }
    }
    if (named !== null) return named
  }
  return null
}

/**
 * The request's tenant: named by the request, and confirmed by the caller's membership. A tenant
 * that does not exist and one the caller is not a member of answer the same 404, so ids of other
 * customers are never confirmed. Without a caller, no tenant is resolved.
 */
export async function resolveTenant(
  request: FastifyRequest,
  context: ResolverContext,
): Promise<RequestTenant | null> {
  const caller = callerOf(request)
  if (!caller) return null
  const tenantId = await namedTenantId(request, caller, context)
  if (tenantId === null) return null
  if (!UUID.test(tenantId)) throw new TenancyErrors.TenantNotFound()
  if (caller.boundTenantId !== null && caller.boundTenantId !== tenantId) {
    throw new TenancyErrors.TenantNotFound()
  }
  const membership = await context.membership(tenantId.toLowerCase(), caller.userId)
  if (!membership) throw new TenancyErrors.TenantNotFound()
  if (membership.tenant.status !== 'active') throw new TenancyErrors.TenantSuspended()
  return {
    id: membership.tenant.id,
    slug: membership.tenant.slug,
    plan: membership.tenant.plan,
    roles: membership.roles,
  }
}
