import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { WebhooksErrors } from '../errors.js'
import type { SigningKeyService } from '../services/signing-keys.js'
import type { SqlClient } from '../sql.js'
import { tenantParams } from './schemas.js'

export interface SigningKeyRoutesOptions {
  signingKeys: SigningKeyService
}

const signingKeyView = z.object({
  publicKey: z
    .string()
    .describe(
      '`whpk_` + base64 of the Ed25519 public key: receivers verify the `v1a` entry of ' +
        '`webhook-signature` with it.',
    ),
  createdAt: z.date(),
})

function tenantOf(request: FastifyRequest): string {
  const tenant = request.tenant
  if (!tenant) throw new WebhooksErrors.TenantRequired()
  return tenant.id
}

const db = (request: FastifyRequest) => request.db as unknown as SqlClient

/**
 * The tenant's `v1a` signing key: publish, create, delete. API keys follow core's rule (a key
 * whose scopes grant the route's permission may call it); the private key is never returned.
 */
export async function signingKeyRoutes(app: FastifyInstance, options: SigningKeyRoutesOptions) {
  const { signingKeys } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const read = { auth: 'required', tenant: 'required', permission: 'webhooks:read' } as const
  const manage = { auth: 'required', tenant: 'required', permission: 'webhooks:manage' } as const

  routes.get(
    '/tenants/:tenantId/webhooks/signing-key',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Get the tenant’s public signing key',
        description:
          'The Ed25519 public key (`whpk_…`) of the tenant’s asymmetric (`v1a`) signatures, to ' +
          'give to receivers. 404 `ACME_WEBHOOKS_SIGNING_KEY_NOT_FOUND` when the tenant has none.',
        params: tenantParams,
        response: { 200: signingKeyView },
      },
      config: read,
    },
    async (request) => signingKeys.get(db(request), tenantOf(request)),
  )

  routes.post(
    '/tenants/:tenantId/webhooks/signing-key',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Turn on asymmetric (v1a) signatures',
        description:
          'Creates the tenant’s Ed25519 key pair (201): from then on every delivery of the ' +
          'tenant carries a `v1a` signature beside its `v1`. A tenant that has a key keeps it ' +
          '(200 with the same public key).',
        params: tenantParams,
        response: { 200: signingKeyView, 201: signingKeyView },
      },
      config: manage,
    },
    async (request, reply) => {
      const { key, created } = await signingKeys.create(db(request), tenantOf(request))
      return reply.code(created ? 201 : 200).send(key)
    },
  )

  routes.delete(
    '/tenants/:tenantId/webhooks/signing-key',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Turn off asymmetric (v1a) signatures',
        description:
          'Deletes the tenant’s key pair: deliveries carry `v1` signatures only from then on. ' +
          'A key created later is a new one.',
        params: tenantParams,
        response: { 204: z.null().describe('Deleted.') },
      },
      config: manage,
    },
    async (request, reply) => {
      await signingKeys.remove(db(request), tenantOf(request))
      return reply.code(204).send(null)
    },
  )
}
