import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { WebhooksErrors } from '../errors.js'
import type { DeliveryLog } from '../services/deliveries.js'
import type { ReplayService } from '../services/replays.js'
import type { SqlClient } from '../sql.js'
import { endpointParams } from './schemas.js'

export interface DeliveryRoutesOptions {
  log: DeliveryLog
  replays: ReplayService
  /** The plugin's route prefix, for the `Location` of a replay. */
  prefix: string
  /** Queues one attempt now (core's jobs), so a resend does not wait for the sweeper. */
  enqueueAttempt(job: { tenantId: string; deliveryId: string }, jobId: string): Promise<void>
}

const deliveryParams = z.object({ tenantId: z.uuid(), deliveryId: z.uuid() }).strict()

const deliveryView = z.object({
  id: z.uuid(),
  messageId: z.string().describe('The `webhook-id` every attempt carries.'),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'failed', 'cancelled']),
  attempts: z.number().int(),
  nextAttemptAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
})

const attemptView = z.object({
  attempt: z.number().int(),
  status: z.number().int().nullable().describe('HTTP status; null when no response came.'),
  outcome: z.enum(['delivered', 'failed', 'gone', 'refused', 'timeout', 'network']),
  error: z.string().nullable(),
  durationMs: z.number().int(),
  responseHeaders: z.record(z.string(), z.string()),
  responseBody: z.string().describe('The first 4 KB of the response body.'),
  attemptedAt: z.date(),
})

const replayView = z.object({
  id: z.uuid(),
  endpointId: z.uuid(),
  since: z.date(),
  state: z
    .enum(['queued', 'running', 'done', 'failed'])
    .describe('`done` once every delivery it made due has been attempted.'),
  total: z.number().int().describe('Deliveries made due again so far.'),
  done: z.number().int().describe('Of those, attempted since (delivered, failed or cancelled).'),
  delivered: z.number().int().describe('Of those, delivered.'),
  error: z.string().nullable().describe('Why it failed (the endpoint was disabled).'),
  createdAt: z.date(),
  updatedAt: z.date(),
})

function tenantOf(request: FastifyRequest): string {
  const tenant = request.tenant
  if (!tenant) throw new WebhooksErrors.TenantRequired()
  return tenant.id
}

const db = (request: FastifyRequest) => request.db as unknown as SqlClient

/** The delivery log, resend, replays and their progress. API keys: core's rule (the permission's scope). */
export async function deliveryRoutes(app: FastifyInstance, options: DeliveryRoutesOptions) {
  const { log, replays, prefix, enqueueAttempt } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const read = { auth: 'required', tenant: 'required', permission: 'webhooks:read' } as const
  const manage = { auth: 'required', tenant: 'required', permission: 'webhooks:manage' } as const

  routes.get(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List an endpoint’s deliveries',
        description:
          'Newest first, optionally by status; page with `before` (the last item’s `createdAt`).',
        params: endpointParams,
        querystring: z
          .object({
            status: z.enum(['pending', 'delivered', 'failed', 'cancelled']).optional(),
            before: z.iso.datetime({ offset: true }).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(50),
          })
          .strict(),
        response: { 200: z.object({ items: z.array(deliveryView) }) },
      },
      config: read,
    },
    async (request) => ({
      items: await log.list(db(request), tenantOf(request), request.params.endpointId, {
        ...(request.query.status ? { status: request.query.status } : {}),
        ...(request.query.before ? { before: new Date(request.query.before) } : {}),
        limit: request.query.limit,
      }),
    }),
  )

  routes.get(
    '/tenants/:tenantId/webhooks/deliveries/:deliveryId/attempts',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List a delivery’s attempts',
        description:
          'Every attempt with its status, outcome, duration, response headers (credentials ' +
          'redacted) and the start of the response body.',
        params: deliveryParams,
        response: { 200: z.object({ items: z.array(attemptView) }) },
      },
      config: read,
    },
    async (request) => ({
      items: await log.attempts(db(request), tenantOf(request), request.params.deliveryId),
    }),
  )

  routes.post(
    '/tenants/:tenantId/webhooks/deliveries/:deliveryId/resend',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Resend a delivery',
        description:
          'One more attempt now, with the same `webhook-id`, of a delivered, failed or cancelled ' +
          'delivery (409 while it is pending or its endpoint is disabled).',
        params: deliveryParams,
        response: { 202: z.object({ id: z.uuid() }) },
      },
      config: manage,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const { deliveryId } = request.params
      const { attempts } = await log.resend(db(request), tenantId, deliveryId)
      reply.code(202)
      // After the response: request.db's transaction has committed by then.
      reply.raw.once('finish', () => {
        enqueueAttempt({ tenantId, deliveryId }, `${deliveryId}.${attempts + 1}.resend`).catch(
          (error: unknown) =>
            request.log.warn({ err: error }, 'webhooks: resend left to the sweeper'),
        )
      })
      return { id: deliveryId }
    },
  )

  routes.post(
    '/tenants/:tenantId/webhooks/endpoints/:endpointId/replay',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Replay an endpoint’s failed deliveries',
        description:
          'Starts a background job (202, `Location` names its progress) that makes every failed ' +
          'or cancelled delivery of the endpoint created since `since` due again: one attempt ' +
          'each, same `webhook-id`s, sent by the delivery engine under the tenant’s cap. While ' +
          'a replay of the endpoint is under way, starting another answers that one (a double ' +
          'click does the work once). 409 `ACME_WEBHOOKS_NOT_RESENDABLE` with the endpoint disabled.',
        params: endpointParams,
        body: z.object({ since: z.iso.datetime({ offset: true }) }).strict(),
        response: { 202: replayView },
      },
      config: manage,
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const { replay } = await replays.start(
        tenantId,
        request.params.endpointId,
        new Date(request.body.since),
      )
      return reply
        .code(202)
        .header('location', `${prefix}/tenants/${tenantId}/webhooks/replays/${replay.id}`)
        .send(replay)
    },
  )

  routes.get(
    '/tenants/:tenantId/webhooks/replays/:replayId',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Get a replay’s progress',
        description:
          '`state` (`queued`, `running`, `done`, `failed`), `total` deliveries made due again, ' +
          '`done` of them attempted since, `delivered` of them delivered. 404 for an id of ' +
          'another tenant.',
        params: z.object({ tenantId: z.uuid(), replayId: z.uuid() }).strict(),
        response: { 200: replayView },
      },
      config: read,
    },
    async (request) => replays.get(db(request), tenantOf(request), request.params.replayId),
  )
}
