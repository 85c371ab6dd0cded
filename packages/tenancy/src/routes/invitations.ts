import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TenancyErrors } from '../errors.js'
import type { InvitationService } from '../services/invitations.js'
import type { TenantService } from '../services/tenants.js'
import { callerId, currentTenant, managers, type RoleRules, roleName } from './roles.js'
import { myTenantView, tenantParams } from './schemas.js'

export interface InvitationRoutesOptions {
  tenants: TenantService
  invitations: InvitationService
  rules: RoleRules
  acceptUrl: string
  ttlSeconds: number
}

const invitationView = z.object({
  id: z.uuid(),
  email: z.string(),
  roles: z.array(z.string()),
  invitedById: z.uuid().nullable(),
  expiresAt: z.date(),
  createdAt: z.date(),
})

export async function invitationRoutes(app: FastifyInstance, options: InvitationRoutesOptions) {
  const { tenants, invitations } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const { rules } = options

  routes.post(
    '/tenants/:tenantId/invitations',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Invite someone',
        description:
          'Mails a single-use link (valid for the configured days) to the address. Owners and ' +
          'admins invite; only owners invite owners. Pending invitations take a seat: past the ' +
          "plan's seats the answer is 409. Inviting an address again replaces its pending " +
          'invitation (the old link stops working).',
        params: tenantParams,
        body: z
          .object({
            email: z.email().max(320),
            roles: z.array(roleName).min(1).max(10),
          })
          .strict(),
        response: { 201: invitationView },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:invite' },
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      const roles = [...new Set(request.body.roles)]
      await rules.assertCanAssign(request, tenant, roles)
      const inviterId = callerId(request)
      const { token, invitation } = await invitations.invite(
        tenant.id,
        { email: request.body.email, roles },
        inviterId,
      )
      const [record, inviter] = await Promise.all([
        tenants.get(tenant.id),
        tenants.run({ tenantId: '' }, (tx) =>
          tx.user.findUnique({ where: { id: inviterId }, select: { name: true, email: true } }),
        ),
      ])
      const acceptUrl = new URL(options.acceptUrl)
      acceptUrl.searchParams.set('token', token)
      await app.mailer.sendTemplate('tenancy.invitation', invitation.email, {
        tenantName: record.name,
        inviterName: inviter?.name ?? inviter?.email ?? null,
        acceptUrl: acceptUrl.toString(),
        expiresInDays: Math.round(options.ttlSeconds / 86_400),
      })
      app.events.emit('member.invited', {
        tenantId: tenant.id,
        invitationId: invitation.id,
        email: invitation.email,
        roles: invitation.roles,
        by: inviterId,
      })
      return reply.code(201).send(invitation)
    },
  )

  routes.get(
    '/tenants/:tenantId/invitations',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'List pending invitations',
        description: 'Invitations not yet accepted, revoked or expired, oldest first.',
        params: tenantParams,
        response: { 200: z.object({ items: z.array(invitationView) }) },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:invite' },
    },
    async (request) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      return { items: await invitations.listPending(tenant.id) }
    },
  )

  routes.delete(
    '/tenants/:tenantId/invitations/:invitationId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Revoke an invitation',
        description: 'Its link stops working and its seat is free again.',
        params: z.object({ tenantId: z.uuid(), invitationId: z.uuid() }).strict(),
        response: { 204: z.null() },
      },
      config: { auth: 'required', tenant: 'required', permission: 'members:invite' },
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      const { invitationId } = request.params
      await invitations.revoke(tenant.id, invitationId)
      app.events.emit('invitation.revoked', {
        tenantId: tenant.id,
        invitationId,
        by: callerId(request),
      })
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/invitations/accept',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Accept an invitation',
        description:
          'Joins the tenant with the invited roles. The signed-in account must have the invited ' +
          'address (403 otherwise); an unknown, used, revoked or expired link answers 400.',
        body: z.object({ token: z.string().min(20).max(200) }).strict(),
        response: { 200: z.object({ tenant: myTenantView }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const userId = callerId(request)
      if (request.principal?.type !== 'user') throw new TenancyErrors.Forbidden()
      const user = await tenants.run({ tenantId: '' }, (tx) =>
        tx.user.findUnique({ where: { id: userId }, select: { id: true, email: true } }),
      )
      if (!user) throw new TenancyErrors.InvitationInvalid()
      const accepted = await invitations.accept(request.body.token, user)
      await app.tenancy.invalidate(accepted.tenantId, userId)
      app.events.emit('member.joined', {
        tenantId: accepted.tenantId,
        userId,
        invitationId: accepted.invitationId,
        roles: accepted.roles,
      })
      const record = await tenants.get(accepted.tenantId)
      return { tenant: { ...record, roles: accepted.roles } }
    },
  )
}
