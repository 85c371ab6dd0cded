import type { AcmePrisma } from '@acme/core'
import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import type { TenantJobDefinition, TenantJobHandle } from './jobs.js'
import type { Plan } from './options.js'
import type { TransactionScope } from './request-db.js'
import type { TenantScopedClient } from './scoped-client.js'
import type { MemberRoles } from './services/member-roles.js'
import type { MembershipInfo } from './services/memberships.js'
import type { TenantRecord } from './services/tenants.js'
import type { TenantSettings } from './tenant-transaction.js'

/** The tenant a request works in, after its caller's membership was verified. */
export interface RequestTenant {
  id: string
  slug: string
  plan: string
  roles: string[]
}

/** `config.tenant` of a route: must the request name a tenant? */
export type RouteTenantMode = 'required' | 'optional' | false

/** Decides role assignments when an authorization plugin (e.g. @acme/rbac) is installed. */
export interface RoleAuthority {
  /** Throws (400 unknown role, 403 escalation) unless the caller may give `roles` to someone holding `replacing`. */
  assertCanAssign(
    request: FastifyRequest,
    tenantId: string,
    roles: readonly string[],
    replacing: readonly string[],
  ): Promise<void>
}

/**
 * What `app.tenancy.tenants.run` hands its work: the app's Prisma client, as the app registered
 * it with core (`AcmeRegister`), inside one transaction that carries the tenant settings. Typed
 * from the app's client, not from this package's own generated one, so the published types stay
 * small and name no model but the app's (whose schema holds this plugin's fragment).
 */
export type TenantTransactionClient = Omit<
  AcmePrisma,
  '$connect' | '$disconnect' | '$on' | '$extends' | '$use' | '$transaction'
>

/** `app.tenancy`: for hosts and other plugins. */
export interface TenancyServices {
  readonly mode: 'multi' | 'single'
  readonly rls: boolean
  plan(name: string): Plan
  /** The caller's membership, from the in-memory directory (null: not a member). */
  membership(tenantId: string, userId: string): Promise<MembershipInfo | null>
  /** Drop cached memberships of a tenant (or one member) on every instance. */
  invalidate(tenantId: string, userId?: string): Promise<void>
  /** A client scoped to `tenantId` for work outside a request (jobs, scripts): one transaction. */
  withTenant<R>(tenantId: string, work: (db: TenantScopedClient) => Promise<R>): Promise<R>
  /** Hands role decisions (and route permission checks) to an authorization plugin. */
  setRoleAuthority(authority: RoleAuthority): void
  /** Members' roles as stored, for an authorization plugin (it never writes tenancy's tables). */
  memberRoles: MemberRoles
  /** A background job that carries its tenant and runs scoped to it. */
  defineJob<S extends z.ZodType>(definition: TenantJobDefinition<S>): TenantJobHandle<z.input<S>>
  tenants: {
    create(
      input: { name: string; slug: string; plan?: string },
      ownerId: string,
    ): Promise<TenantRecord>
    get(tenantId: string): Promise<TenantRecord>
    setPlan(tenantId: string, plan: string): Promise<void>
    addMember(tenantId: string, userId: string, roles: string[]): Promise<void>
    /** Replaces a member's roles (404 when not a member, 409 when it would remove the last owner). */
    setRoles(tenantId: string, userId: string, roles: string[]): Promise<void>
    /** Runs `work` in one transaction as `settings.tenantId` (and `userId`, when given). */
    run<R>(settings: TenantSettings, work: (tx: TenantTransactionClient) => Promise<R>): Promise<R>
  }
}

declare module '@acme/auth' {
  interface UserPrincipal {
    /** The access token's `tid`: the session's active tenant when it was issued, or null. */
    tenantId: string | null
  }
  interface ApiKeyPrincipal {
    /** The tenant the key is bound to; null for a user's own key, which works in no tenant. */
    tenantId: string | null
  }
  interface ApiKeyColumns {
    /** Binds the key to a tenant (tenancy's `POST /tenants/:tenantId/api-keys`). */
    tenantId?: string | null
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's tenant, or null when it names none. */
    tenant: RequestTenant | null
    /**
     * The app's Prisma client scoped to the request's tenant. With row-level security each
     * statement carries the tenant to PostgreSQL (or, with the `request` transaction scope, the
     * request is one transaction). Reading it without a tenant throws (400), never falls back to
     * an unscoped client.
     */
    readonly db: TenantScopedClient
  }
  interface FastifyInstance {
    readonly tenancy: TenancyServices
  }
  interface FastifyContextConfig {
    /** Whether the route needs a tenant; default 'optional' (resolved when the request names one). */
    tenant?: RouteTenantMode
    /**
     * How much of this route's `request.db` work one transaction covers (row-level security on):
     * `statement` or `request` (one transaction, committed before a successful response). Default:
     * the plugin's `transaction.scope`.
     */
    tenantTransaction?: TransactionScope
  }
}

declare module '@acme/core' {
  interface AcmeJobs {
    /** The background cleanup of lapsed invitations (see the README, "Cleanup"); `{}` runs it now. */
    'tenancy.cleanup': Record<string, never>
  }
  interface AcmeEvents {
    'tenant.created': { tenantId: string; userId: string }
    'tenant.updated': { tenantId: string; userId: string }
    'tenant.deleted': { tenantId: string; userId: string }
    /** `tenantId` is null for global assignments (an authorization plugin without tenancy). */
    'member.roles_changed': { tenantId: string | null; userId: string; roles: string[]; by: string }
    'member.removed': { tenantId: string; userId: string; by: string }
    /** `email` is the invited address (normalised); never the invitation's link or token. */
    'member.invited': {
      tenantId: string
      invitationId: string
      email: string
      roles: string[]
      by: string
    }
    'invitation.revoked': { tenantId: string; invitationId: string; by: string }
    /** An invitation accepted: `roles` are the member's roles now. */
    'member.joined': { tenantId: string; userId: string; invitationId: string; roles: string[] }
  }
}
