import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { WebhooksErrors } from '../errors.js'
import type { EventTypeCatalog } from '../event-types.js'
import type { EndpointService } from '../services/endpoints.js'
import type { SqlClient } from '../sql.js'
import { configurationOf } from './endpoint-events.js'
import {
  endpointBody,
  endpointParams,
  endpointPatch,
  endpointView,
  secretView,
  tenantParams,
} from './schemas.js'

export interface EndpointRoutesOptions {
  endpoints: EndpointService
  catalog: EventTypeCatalog
  /** Throws `ACME_WEBHOOKS_URL_REFUSED` for a URL deliveries may not go to. */
  checkUrl: (url: string) => Promise<void>
}

/** The request's tenant (the routes require one: tenancy resolved and verified it). */
function tenantOf(request: FastifyRequest): string {
  const tenant = request.tenant
  if (!tenant) throw new WebhooksErrors.TenantRequired()
  return tenant.id
}

const db = (request: FastifyRequest) => request.db as unknown as SqlClient

/**
 * Endpoint CRUD under the tenant. API keys follow core's rule: these routes declare a
 * permission, so a key whose scopes grant it may call them (provisioning endpoints from a
 * customer's own deployment scripts is the common case).
 */
export async function endpointRoutes(app: FastifyInstance, options: EndpointRoutesOptions) {
  const { endpoints, catalog, checkUrl } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const read = { auth: 'required', tenant: 'required', permission: 'webhooks:read' } as const
  const manage = { auth: 'required', tenant: 'required', permission: 'webhooks:manage' } as const

  const checkFilters = (filters: readonly string[] | undefined) => {
    if (!filters) return
    const unknown = catalog.unknownFilters(filters)
    if (unknown.length > 0) {
      throw new WebhooksErrors.UnknownEventType({
        detail: `No event type of the catalog matches ${unknown.map((f) => `"${f}"`).join(', ')}.`,
      })
    }
  }

  routes.get(
    '/tenants/:tenantId/webhooks/endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List webhook endpoints',
        description: 'The tenant’s endpoints, oldest first. Secrets are never listed.',
        params: tenantParams,
        response: { 200: z.object({ items: z.array(endpointView) }) },
      },
      config: read,
    },
    async (request) => ({ items: await endpoints.list(db(request), tenantOf(request)) }),
  )

  routes.post(
    '/tenants/:tenantId/webhooks/endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook endpoint',
        description:
          'Registers a public http(s) URL. URLs naming loopback, private, link-local, CGNAT or ' +
          'metadata addresses (in any encoding), or internal host names, are refused with 400; ' +
          'the address is checked again at every delivery. The signing secret is returned once.',
        params: tenantParams,
        body: endpointBody,
        response: { 201: endpointView.extend({ secret: secretView }) },
      },
      config: manage,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      checkFilters(request.body.eventTypes)
      await checkUrl(request.body.url)
      const { endpoint, secret } = await endpoints.create(db(request), tenantId, request.body)
      // Not awaited: subscribers (the audit trail) write in transactions of their own, which on
      // one embedded connection could not start until this request's transaction ends.
      void app.events.emit('webhook.endpoint.created', {
        tenantId,
        endpointId: endpoint.id,
        after: configurationOf(endpoint),
      })
      return reply.code(201).send({ ...endpoint, secret })
    },
  )

  routes.get(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Get a webhook endpoint',
        description: 'One endpoint of the tenant; 404 for an id of another tenant.',
        params: endpointParams,
        response: { 200: endpointView },
      },
      config: read,
    },
    async (request) => endpoints.get(db(request), tenantOf(request), request.params.endpointId),
  )

  routes.patch(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Change a webhook endpoint',
        description:
          'Changes the fields given. `enabled: true` re-enables an endpoint disabled after ' +
          'failures or a 410. A new URL passes the same check as at creation.',
        params: endpointParams,
        body: endpointPatch,
        response: { 200: endpointView },
      },
      config: manage,
    },
    async (request) => {
      const tenantId = tenantOf(request)
      checkFilters(request.body.eventTypes)
      if (request.body.url !== undefined) await checkUrl(request.body.url)
      const { endpointId } = request.params
      const before = await endpoints.get(db(request), tenantId, endpointId)
      const after = await endpoints.update(db(request), tenantId, endpointId, request.body)
      void app.events.emit('webhook.endpoint.updated', {
        tenantId,
        endpointId,
        before: configurationOf(before),
        after: configurationOf(after),
      })
      return after
    },
  )

  routes.delete(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint',
        description: 'Deletes the endpoint with its pending deliveries and its delivery log.',
        params: endpointParams,
        response: { 204: z.null().describe('Deleted.') },
      },
      config: manage,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const { endpointId } = request.params
      const before = await endpoints.get(db(request), tenantId, endpointId)
      await endpoints.remove(db(request), tenantId, endpointId)
      void app.events.emit('webhook.endpoint.deleted', {
        tenantId,
        endpointId,
        before: configurationOf(before),
      })
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId/rotate-secret',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Rotate an endpoint’s secret',
        description:
          'A new secret, returned once. Until `previousSecretUntil` deliveries carry a ' +
          'signature with each secret, so the receiver can switch without missing one.',
        params: endpointParams,
        response: { 200: z.object({ secret: secretView, previousSecretUntil: z.date() }) },
      },
      config: manage,
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const { endpointId } = request.params
      const rotated = await endpoints.rotateSecret(db(request), tenantId, endpointId)
      void app.events.emit('webhook.secret.rotated', {
        tenantId,
        endpointId,
        previousSecretUntil: rotated.previousSecretUntil.toISOString(),
      })
      return rotated
    },
  )
}
