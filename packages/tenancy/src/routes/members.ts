import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TenancyErrors } from '../errors.js'
import type { TenantService } from '../services/tenants.js'
import { callerId, currentTenant, managers, type RoleRules, roleName } from './roles.js'
import { memberParams, memberView, tenantParams } from './schemas.js'

export interface MemberRoutesOptions {
  tenants: TenantService
  rules: RoleRules
}

export async function memberRoutes(app: FastifyInstance, options: MemberRoutesOptions) {
  const { tenants } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const { rules } = options

  routes.get(
    '/tenants/:tenantId/members',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'List members',
        description: "The tenant's members with their roles, oldest first.",
        params: tenantParams,
        response: { 200: z.object({ items: z.array(memberView) }) },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:read' },
    },
    async (request) => ({ items: await tenants.listMembers(currentTenant(request).id) }),
  )

  routes.patch(
    '/tenants/:tenantId/members/:userId',
    {
      schema: {
        tags: ['tenancy'],
        summary: "Change a member's roles",
        description:
          'Owners and admins; only owners grant or take the owner role. Demoting the last owner ' +
          'answers 409. A user who is not a member answers 404.',
        params: memberParams,
        body: z.object({ roles: z.array(roleName).min(1).max(10) }).strict(),
        response: { 200: memberView },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:manage' },
    },
    async (request) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      const roles = [...new Set(request.body.roles)]
      const { userId } = request.params
      const target = await tenants.membership(tenant.id, userId)
      if (!target) throw new TenancyErrors.NotFound()
      await rules.assertCanAssign(request, tenant, roles, target.roles)
      const member = await tenants.setRoles(tenant.id, userId, roles)
      app.events.emit('member.roles_changed', {
        tenantId: tenant.id,
        userId,
        roles,
        by: callerId(request),
      })
      return member
    },
  )

  routes.delete(
    '/tenants/:tenantId/members/:userId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Remove a member',
        description:
          'Owners and admins remove members (only owners remove owners). To leave a tenant ' +
          'yourself, use DELETE /tenants/{tenantId}/membership. Removing the last owner answers 409.',
        params: memberParams,
        response: { 204: z.null() },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:remove' },
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      const me = callerId(request)
      const { userId } = request.params
      if (userId !== me) {
        rules.require(tenant, managers)
        const target = await tenants.membership(tenant.id, userId)
        if (!target) throw new TenancyErrors.NotFound()
        await rules.assertCanAssign(request, tenant, [], target.roles)
      }
      await tenants.removeMember(tenant.id, userId)
      app.events.emit('member.removed', { tenantId: tenant.id, userId, by: me })
      return reply.code(204).send(null)
    },
  )

  routes.delete(
    '/tenants/:tenantId/membership',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Leave a tenant',
        description:
          'Ends your own membership; any member may leave, whatever their roles (the last owner ' +
          'answers 409: make someone else owner first).',
        params: tenantParams,
        response: { 204: z.null() },
      },
      config: { auth: 'required', tenant: 'required', permission: false },
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      const me = callerId(request)
      await tenants.removeMember(tenant.id, me)
      app.events.emit('member.removed', { tenantId: tenant.id, userId: me, by: me })
      return reply.code(204).send(null)
    },
  )
}
