import { randomBytes } from 'node:crypto'
import { OWNER_ROLE, safeJsonObject, safeString } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TenancyErrors } from '../errors.js'
import type { TenantService } from '../services/tenants.js'
import { callerId, currentTenant, managers, type RoleRules } from './roles.js'
import { myTenantView, slug, tenantParams } from './schemas.js'

export interface TenantRoutesOptions {
  tenants: TenantService
  rules: RoleRules
  /** Makes the tenant the session's active one and issues an access token carrying it. */
  switchTenant: (
    sessionId: string,
    tenantId: string,
  ) => Promise<{ accessToken: string; expiresIn: number }>
}

function slugFrom(name: string): string {
  const base = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
  return `${base || 'tenant'}-${randomBytes(3).toString('hex')}`
}

export async function tenantRoutes(app: FastifyInstance, options: TenantRoutesOptions) {
  const { tenants } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()

  routes.post(
    '/tenants',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Create a tenant',
        description:
          'Creates a tenant on the default plan; the caller becomes its owner. Without a slug, one ' +
          'is derived from the name. A slug in use answers 409.',
        body: z
          .object({ name: safeString().trim().min(1).max(100), slug: slug.optional() })
          .strict(),
        response: { 201: myTenantView },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      const userId = callerId(request)
      const tenant = await tenants.create(
        { name: request.body.name, slug: request.body.slug ?? slugFrom(request.body.name) },
        userId,
      )
      app.events.emit('tenant.created', { tenantId: tenant.id, userId })
      return reply.code(201).send({ ...tenant, roles: [OWNER_ROLE] })
    },
  )

  routes.get(
    '/tenants',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'List my tenants',
        description: 'The tenants the caller is a member of, with their roles, oldest first.',
        response: { 200: z.object({ items: z.array(myTenantView) }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const memberships = await tenants.listForUser(callerId(request))
      return {
        items: memberships.map(({ tenant, roles }) => ({ ...tenant, roles })) as Array<
          z.input<typeof myTenantView>
        >,
      }
    },
  )

  routes.get(
    '/tenants/:tenantId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Get a tenant',
        description: 'A tenant the caller is a member of; any other id answers 404.',
        params: tenantParams,
        response: { 200: myTenantView },
      },
      config: { auth: 'required', tenant: 'required', permission: false, apiKeys: 'allow' },
    },
    async (request) => {
      const tenant = currentTenant(request)
      return { ...(await tenants.get(tenant.id)), roles: tenant.roles }
    },
  )

  routes.patch(
    '/tenants/:tenantId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Update a tenant',
        description: 'Name, slug and settings; owners and admins only. The plan is not set here.',
        params: tenantParams,
        body: z
          .object({
            name: safeString().trim().min(1).max(100).optional(),
            slug: slug.optional(),
            settings: safeJsonObject().optional(),
          })
          .strict(),
        response: { 200: myTenantView },
      },
      config: { auth: 'required', tenant: 'required', permission: 'tenants:manage' },
    },
    async (request) => {
      const tenant = currentTenant(request)
      options.rules.require(tenant, managers)
      const updated = await tenants.update(tenant.id, request.body)
      app.events.emit('tenant.updated', { tenantId: tenant.id, userId: callerId(request) })
      return { ...updated, roles: tenant.roles }
    },
  )

  routes.delete(
    '/tenants/:tenantId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Delete a tenant',
        description: 'Deletes the tenant with its memberships and invitations; owners only.',
        params: tenantParams,
        response: { 204: z.null() },
      },
      config: { auth: 'required', tenant: 'required', permission: 'tenants:delete' },
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      options.rules.require(tenant, [OWNER_ROLE])
      await tenants.delete(tenant.id)
      app.events.emit('tenant.deleted', { tenantId: tenant.id, userId: callerId(request) })
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/tenants/:tenantId/switch',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Work in a tenant',
        description:
          'Issues an access token for the tenant (its `tid` claim); refreshes of the session keep ' +
          'it. API keys cannot switch: a key is bound to its tenant.',
        params: tenantParams,
        response: {
          200: z.object({
            accessToken: z.string(),
            tokenType: z.literal('Bearer'),
            expiresIn: z.number().int(),
            tenant: myTenantView,
          }),
        },
      },
      config: { auth: 'required', tenant: 'required', permission: false },
    },
    async (request) => {
      const tenant = currentTenant(request)
      const sessionId = request.session?.id
      if (!sessionId || request.principal?.type !== 'user') throw new TenancyErrors.Forbidden()
      const issued = await options.switchTenant(sessionId, tenant.id)
      return {
        accessToken: issued.accessToken,
        tokenType: 'Bearer' as const,
        expiresIn: issued.expiresIn,
        tenant: { ...(await tenants.get(tenant.id)), roles: tenant.roles },
      }
    },
  )
}
