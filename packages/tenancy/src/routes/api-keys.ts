import { safeString } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { TenancyErrors } from '../errors.js'
import type { TenantApiKeys } from '../services/tenant-api-keys.js'
import { currentTenant, managers, type RoleRules } from './roles.js'
import { tenantParams } from './schemas.js'

export interface TenantApiKeyRoutesOptions {
  rules: RoleRules
  keys: TenantApiKeys
}

const keyView = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().describe('The public start of the key, to recognise it; not a secret.'),
  scopes: z.array(z.string()),
  ownerId: z.uuid().describe('Who created it: the key never holds more than they do.'),
  createdAt: z.date(),
  expiresAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
})

/** A person with a session, not a key: a leaked key must not mint or revoke keys. */
function sessionUser(request: FastifyRequest): string {
  const principal = request.principal
  if (principal?.type !== 'user') throw new TenancyErrors.Forbidden()
  return principal.userId
}

/** The tenant's API keys: machine access bound to the tenant, managed by its administrators. */
export async function tenantApiKeyRoutes(app: FastifyInstance, options: TenantApiKeyRoutesOptions) {
  const { rules, keys } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const config = { auth: 'required', tenant: 'required', permission: 'api-keys:manage' } as const
  // A leaked key must not mint or revoke keys, whatever its scopes: a person signs in for that.
  const personOnly = { ...config, apiKeys: 'deny' } as const

  routes.post(
    '/tenants/:tenantId/api-keys',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Create an API key of the tenant',
        description:
          'A key bound to the tenant, acting for the caller with the given scopes (with @acme/rbac: ' +
          "the scopes intersected with the caller's current permissions). The key is shown once.",
        params: tenantParams,
        body: z
          .object({
            name: safeString().trim().min(1).max(100),
            scopes: z.array(safeString().min(1).max(100)).max(50).default([]),
            expiresAt: z.iso.datetime({ offset: true }).optional(),
          })
          .strict(),
        response: {
          201: keyView.extend({ key: z.string().describe('Shown once; store it now.') }),
        },
      },
      config: personOnly,
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      const ownerId = sessionUser(request)
      const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : null
      if (expiresAt && expiresAt <= new Date()) {
        throw new TenancyErrors.InvalidInput({ detail: 'expiresAt must be in the future.' })
      }
      const { key, record } = await app.auth.apiKeys.create(ownerId, {
        name: request.body.name,
        scopes: request.body.scopes,
        expiresAt,
        columns: { tenantId: tenant.id },
      })
      return reply.code(201).send({ ...record, ownerId, key })
    },
  )

  routes.get(
    '/tenants/:tenantId/api-keys',
    {
      schema: {
        tags: ['tenancy'],
        summary: "List the tenant's API keys",
        description: 'Keys bound to the tenant that are not revoked, newest first; never the key.',
        params: tenantParams,
        response: { 200: z.object({ items: z.array(keyView) }) },
      },
      config,
    },
    async (request) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      return { items: await keys.list(tenant.id) }
    },
  )

  routes.delete(
    '/tenants/:tenantId/api-keys/:keyId',
    {
      schema: {
        tags: ['tenancy'],
        summary: "Revoke one of the tenant's API keys",
        description: 'It stops working at once on this instance, within 30 s on the others.',
        params: z.object({ tenantId: z.uuid(), keyId: z.uuid() }).strict(),
        response: { 204: z.null() },
      },
      config: personOnly,
    },
    async (request, reply) => {
      const tenant = currentTenant(request)
      rules.require(tenant, managers)
      const me = sessionUser(request)
      const { keyId } = request.params
      const revoked = await keys.revoke(tenant.id, keyId)
      if (!revoked) throw new TenancyErrors.NotFound()
      app.events.emit('api_key.revoked', {
        keyId,
        userId: revoked.ownerId,
        tenantId: tenant.id,
        by: me,
      })
      return reply.code(204).send(null)
    },
  )
}
