import type {} from '@acme/auth'
import { AcmeConfigError, getRequestContext, parseOptions } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { tenancyAuthExtension } from './auth-extension.js'
import { defineCleanupJob } from './cleanup-job.js'
import { buildScopeRules, runtimeDataModelOf } from './data-model.js'
import { TenancyErrors } from './errors.js'
import { defineTenantJob } from './jobs.js'
import { registerTenancyTemplates } from './mail.js'
import { type TenancyOptions, tenancyOptionsSchema } from './options.js'
import { TENANCY_PERMISSIONS } from './permissions.js'
import { createRateLimitHooks } from './rate-limit-hook.js'
import { installRequestDb, type RequestDbOptions, scopedClientFor } from './request-db.js'
import { resolveTenant } from './resolve-tenant.js'
import { tenantApiKeyRoutes } from './routes/api-keys.js'
import { invitationRoutes } from './routes/invitations.js'
import { memberRoutes } from './routes/members.js'
import { RoleRules } from './routes/roles.js'
import { tenantRoutes } from './routes/tenants.js'
import { ActiveTenants, type SessionTenantDb } from './services/active-tenants.js'
import { InvitationCleanup } from './services/cleanup.js'
import { diagnoseTenancy, formatFindings } from './services/doctor.js'
import { InvitationService } from './services/invitations.js'
import { createMemberRoles } from './services/member-roles.js'
import { MembershipDirectory, type MembershipInfo } from './services/memberships.js'
import { RateLimiter } from './services/rate-limiter.js'
import { TenantApiKeys } from './services/tenant-api-keys.js'
import { isUniqueViolation, TenantService } from './services/tenants.js'
import { RequestTransaction, type TransactionCapable } from './tenant-transaction.js'
import type { RequestTenant, TenancyServices, TenantTransactionClient } from './types.js'

const TENANT_MODEL = 'Tenant'

async function registerTenancy(app: FastifyInstance, rawOptions: TenancyOptions): Promise<void> {
  const options = parseOptions('@acme/tenancy', tenancyOptionsSchema, rawOptions)
  if (!app.hasDecorator('auth')) {
    throw new AcmeConfigError('@acme/tenancy', ['register @acme/auth before @acme/tenancy'])
  }
  const prisma = app.prisma as unknown as TransactionCapable
  const dataModel = runtimeDataModelOf(prisma)
  if (!dataModel?.models[TENANT_MODEL]) {
    throw new AcmeConfigError('@acme/tenancy', [
      'app.prisma has no Tenant model: merge the tenancy fragment (acme prisma merge) and regenerate the client',
    ])
  }
  const rules = buildScopeRules(dataModel, {
    tenantField: 'tenantId',
    tenantModel: TENANT_MODEL,
    ...(options.tenantOwnedModels ? { tenantOwnedModels: options.tenantOwnedModels } : {}),
  })
  const limits = options.transaction

  const directory: MembershipDirectory = new MembershipDirectory({
    lookup: (tenantId, userId) => tenants.membership(tenantId, userId),
    lookupSlug: async (slug) =>
      (
        await tenants.run({ tenantId: '' }, (tx) =>
          tx.tenant.findUnique({ where: { slug }, select: { id: true } }),
        )
      )?.id ?? null,
    broadcast: app.broadcast,
    ttlMs: options.membershipCacheSeconds * 1_000,
  })
  const tenants: TenantService = new TenantService({
    prisma,
    limits,
    defaultPlan: options.defaultPlan,
    plans: Object.keys(options.plans),
    onChange: (tenantId, userId) => directory.invalidate(tenantId, userId),
    ...(options.clock ? { now: options.clock } : {}),
  })
  const seatsOf = async (tenantId: string): Promise<number | null> =>
    services.plan((await tenants.get(tenantId)).plan).seats
  const dbOptions: RequestDbOptions = {
    prisma,
    rules,
    rls: options.rls,
    limits,
    scope: options.transaction.scope,
  }

  const roleRules = new RoleRules(options.roles)
  app.permissions.declare('@acme/tenancy', TENANCY_PERMISSIONS)

  let singleTenant: MembershipInfo['tenant'] | null = null
  const services: TenancyServices = {
    mode: options.mode,
    rls: options.rls,
    plan(name) {
      const plan = options.plans[name] ?? options.plans[options.defaultPlan]
      if (!plan) throw new TypeError(`unknown plan ${name}`)
      return plan
    },
    membership: (tenantId, userId) => directory.get(tenantId, userId),
    invalidate: (tenantId, userId) => directory.invalidate(tenantId, userId),
    async withTenant(tenantId, work) {
      if (!tenantId) throw new TenancyErrors.TenantRequired()
      if (!options.rls) return work(scopedClientFor(dbOptions, tenantId, null))
      const transaction = new RequestTransaction(prisma, { tenantId }, limits)
      try {
        const result = await work(scopedClientFor(dbOptions, tenantId, transaction))
        await transaction.commit()
        return result
      } catch (error) {
        await transaction.rollback()
        throw error
      }
    },
    setRoleAuthority(authority) {
      roleRules.authority = authority
    },
    memberRoles: createMemberRoles((tenantId, work) => services.withTenant(tenantId, work)),
    defineJob: (definition) => defineTenantJob(app.jobs, services.withTenant, definition),
    tenants: {
      create: (input, ownerId) => tenants.create(input, ownerId),
      get: (tenantId) => tenants.get(tenantId),
      setPlan: (tenantId, plan) => tenants.setPlan(tenantId, plan),
      addMember: async (tenantId, userId, roles) =>
        tenants.addMember(tenantId, userId, roles, await seatsOf(tenantId)),
      // The same transaction client the services use, typed as the app registered its client.
      run: (settings, work) =>
        tenants.run(settings, (tx) => work(tx as unknown as TenantTransactionClient)),
      setRoles: async (tenantId, userId, roles) => {
        await tenants.setRoles(tenantId, userId, roles)
      },
    },
  }
  app.decorate('tenancy', services)
  defineCleanupJob(app, {
    cleanup: new InvitationCleanup({
      tenants,
      now: options.clock ?? (() => new Date()),
      retentionDays: options.cleanup.retentionDays,
      batchSize: options.cleanup.batchSize,
    }),
    when: options.cleanup.enabled ? options.cleanup.schedule : null,
  })
  app.decorateRequest('tenant', null)
  const activeTenants = new ActiveTenants(app.prisma as unknown as SessionTenantDb)
  app.auth.extend(tenancyAuthExtension(activeTenants))
  await installRequestDb(app, dbOptions)

  const resolverContext = {
    resolvers: options.resolvers,
    header: options.header,
    idBySlug: (slug: string) => directory.tenantIdBySlug(slug),
    membership: (tenantId: string, userId: string) => directory.get(tenantId, userId),
  }

  async function tenantOf(request: FastifyRequest): Promise<RequestTenant | null> {
    if (!singleTenant) return resolveTenant(request, resolverContext)
    // As in multi mode, without a caller no tenant is resolved: a public route gets no data.
    const userId = request.principal?.userId
    if (!userId) return null
    const membership = await directory.get(singleTenant.id, userId)
    return {
      id: singleTenant.id,
      slug: singleTenant.slug,
      plan: singleTenant.plan,
      roles: membership?.roles ?? [],
    }
  }

  async function resolveRequestTenant(request: FastifyRequest, required: boolean): Promise<void> {
    const tenant = await tenantOf(request)
    if (!tenant) {
      if (required) throw new TenancyErrors.TenantRequired()
      return
    }
    request.tenant = tenant
    const context = getRequestContext()
    if (context) context.tenant = { id: tenant.id }
  }

  let rateLimit: ReturnType<typeof createRateLimitHooks> | null = null
  if (options.rateLimit.enabled && app.redis) {
    const { clock } = options
    rateLimit = createRateLimitHooks({
      limiter: new RateLimiter({
        redis: app.redis,
        keyPrefix: `${app.redisKeyPrefix}tenancy:rate:`,
        ...(clock ? { now: () => clock().getTime() } : {}),
        // How long a request may wait for its decision before it goes through undecided.
        timeoutMs: 500,
      }),
      plan: (name) => services.plan(name),
      anonymousPerMinute: options.rateLimit.anonymousPerMinute,
      logger: app.log,
    })
    app.addHook('onSend', rateLimit.onSend)
  }

  // After authentication (core runs the phases in order), so the caller is known. A public route
  // has no caller, so only its rate limit runs; a route that opts out of rate limiting (core's
  // health probes) skips the tenant's limit too.
  app.routeChecks.add('tenant', (route) => {
    const required = route.config.tenant === 'required'
    const resolves = required || route.config.auth !== 'public'
    const optedOut = (route.config as { rateLimit?: unknown }).rateLimit === false
    const limit = optedOut ? null : rateLimit
    if (!resolves && !limit) return null
    return async (request, reply) => {
      if (resolves) await resolveRequestTenant(request, required)
      if (limit) await limit.onRequest(request, reply)
    }
  })

  app.addHook('onReady', async () => {
    if (!options.rls) {
      app.log.warn('tenancy: row-level security is off; only the scoped client isolates tenants')
    } else if (options.doctor !== 'off') {
      await runDoctor()
    }
    if (options.mode === 'single') singleTenant = await ensureSingleTenant()
  })

  async function runDoctor(): Promise<void> {
    const findings = await diagnoseTenancy({
      query: (sql, params) =>
        (
          app.prisma as unknown as {
            $queryRawUnsafe<Row>(sql: string, ...values: unknown[]): Promise<Row[]>
          }
        ).$queryRawUnsafe(sql, ...params),
      tenantTables: [...rules.values()]
        .filter((rule) => rule.tenantOwned)
        .map((rule) => ({ model: rule.model, table: rule.table, column: rule.tenantColumn })),
      policyTables: options.policyTables,
    })
    if (findings.length === 0) return
    const report = formatFindings(findings)
    if (options.doctor === 'warn') {
      app.log.warn({ findings }, `tenancy doctor:\n${report}`)
      return
    }
    throw new AcmeConfigError('@acme/tenancy', [`the tenancy doctor refuses to start:\n${report}`])
  }

  async function ensureSingleTenant(): Promise<MembershipInfo['tenant']> {
    const { slug, name } = options.singleTenant
    const bySlug = () =>
      tenants.run({ tenantId: '' }, (tx) => tx.tenant.findUnique({ where: { slug } }))
    const existing = await bySlug()
    if (existing) return existing
    const id = crypto.randomUUID()
    try {
      return await tenants.run({ tenantId: id }, (tx) =>
        tx.tenant.create({ data: { id, slug, name, plan: options.defaultPlan } }),
      )
    } catch (error) {
      // Another instance of the deployment, starting at the same time, created it first.
      const created = isUniqueViolation(error) ? await bySlug() : null
      if (created) return created
      throw error
    }
  }

  app.openapi.addTag({ name: 'tenancy', description: 'Tenants, members and invitations.' })
  if (options.mode === 'multi') {
    await app.register(tenantRoutes, {
      tenants,
      rules: roleRules,
      switchTenant: async (sessionId, tenantId) => {
        await activeTenants.set(sessionId, tenantId)
        return app.auth.sessions.reissue(sessionId)
      },
    })
    await app.register(memberRoutes, { tenants, rules: roleRules })
    await app.register(tenantApiKeyRoutes, {
      rules: roleRules,
      keys: new TenantApiKeys({
        tenants,
        now: options.clock ?? (() => new Date()),
        forget: (prefix) => app.auth.apiKeys.forget(prefix),
      }),
    })
    registerTenancyTemplates(app.mailer)
    await app.register(invitationRoutes, {
      tenants,
      invitations: new InvitationService({
        tenants,
        ttlSeconds: options.invitations.ttlSeconds,
        seatsOf,
        ...(options.clock ? { now: options.clock } : {}),
      }),
      rules: roleRules,
      acceptUrl: options.invitations.acceptUrl ?? `${app.brand.baseUrl}/accept-invitation`,
      ttlSeconds: options.invitations.ttlSeconds,
    })
  }
}

/** Multi-tenancy: register after `@acme/core` and `@acme/auth`. */
export const acmeTenancy = fp(registerTenancy, {
  name: '@acme/tenancy',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth'],
})

export default acmeTenancy

export { TenancyErrors } from './errors.js'
export type { TenantJobContext, TenantJobDefinition, TenantJobHandle } from './jobs.js'
export {
  DEFAULT_PLANS,
  type Plan,
  type ResolvedTenancyOptions,
  type TenancyOptions,
} from './options.js'
export { TENANCY_PERMISSIONS } from './permissions.js'
export type { TransactionScope } from './request-db.js'
export type { TenantScopedClient } from './scoped-client.js'
export type { MemberRoles } from './services/member-roles.js'
export type { MembershipInfo, TenantSummary } from './services/memberships.js'
export type { MemberRecord, TenantRecord } from './services/tenants.js'
export type {
  RequestTenant,
  RoleAuthority,
  RouteTenantMode,
  TenancyServices,
  TenantTransactionClient,
} from './types.js'
