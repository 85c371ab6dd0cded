import type {} from '@acme/auth'
import {
  AcmeConfigError,
  createCounterStore,
  getRequestContext,
  parseOptions,
  scheduleOnReady,
  systemClock,
} from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { DeliveryEngine, LEASE_MARGIN_MS } from './delivery/engine.js'
import { TenantSlots } from './delivery/tenant-slots.js'
import { WebhooksErrors } from './errors.js'
import { EventTypeCatalog } from './event-types.js'
import { registerWebhooksTemplates } from './mail.js'
import { openApiWebhooks } from './openapi.js'
import { type WebhooksOptions, webhooksOptionsSchema } from './options.js'
import { WEBHOOKS_PERMISSIONS } from './permissions.js'
import { deliveryRoutes } from './routes/deliveries.js'
import { endpointRoutes } from './routes/endpoints.js'
import { eventTypeRoutes } from './routes/event-types.js'
import { signingKeyRoutes } from './routes/signing-key.js'
import { DeliveryLog } from './services/deliveries.js'
import { type CanManage, mailEndpointDisabled } from './services/disabled-mail.js'
import { EndpointService } from './services/endpoints.js'
import { writeOutbox } from './services/outbox.js'
import { ReplayService } from './services/replays.js'
import { purgeMessages } from './services/retention.js'
import { SecretVault } from './services/secrets.js'
import { SigningKeyService } from './services/signing-keys.js'
import type { TransactionalClient } from './sql.js'
import { checkEndpointUrl, type GuardSettings, SsrfRefusal, systemResolver } from './ssrf/guard.js'
import type { WebhooksServices } from './types.js'

/** The shape of `@acme/rbac`'s public `app.rbac.can` this plugin uses (rbac is optional). */
interface PermissionAuthority {
  can(
    principal: { type: 'user'; userId: string },
    permission: string,
    context: { tenantId: string },
  ): Promise<boolean>
}

/** Who may manage a tenant's webhooks, by rbac when the app has it (custom roles included). */
function canManageWebhooks(app: FastifyInstance): CanManage | null {
  if (!app.hasDecorator('rbac')) return null
  const rbac = (app as unknown as { rbac: PermissionAuthority }).rbac
  return (userId, tenantId) => rbac.can({ type: 'user', userId }, 'webhooks:manage', { tenantId })
}

async function registerWebhooks(app: FastifyInstance, rawOptions: WebhooksOptions): Promise<void> {
  const options = parseOptions('@acme/webhooks', webhooksOptionsSchema, rawOptions)
  if (!app.hasDecorator('auth') || !app.hasDecorator('tenancy')) {
    throw new AcmeConfigError('@acme/webhooks', [
      'register @acme/auth and @acme/tenancy before @acme/webhooks',
    ])
  }
  const clock = options.clock ?? systemClock
  const vault = new SecretVault(options.encryptionKey)
  const catalog = new EventTypeCatalog()
  const guard: GuardSettings = {
    allowAddresses: options.ssrf.allowAddresses,
    resolve: systemResolver,
  }
  const endpoints = new EndpointService({
    vault,
    clock,
    secretBytes: options.secretBytes,
    rotationOverlapSeconds: options.rotationOverlapSeconds,
    maxEndpointsPerTenant: options.maxEndpointsPerTenant,
  })
  app.permissions.declare('@acme/webhooks', WEBHOOKS_PERMISSIONS)
  registerWebhooksTemplates(app.mailer)

  const checkUrl = async (url: string): Promise<void> => {
    try {
      await checkEndpointUrl(url, guard)
    } catch (error) {
      if (!(error instanceof SsrfRefusal)) throw error
      throw new WebhooksErrors.UrlRefused({
        detail: `Webhook endpoints must be public http(s) URLs: ${error.reason}.`,
      })
    }
  }

  const relayJob = app.jobs.define({
    name: 'webhooks.relay',
    schema: z
      .object({ tenantId: z.uuid(), messageIds: z.array(z.string().max(40)).min(1) })
      .strict(),
    concurrency: 4,
    handler: async ({ tenantId, messageIds }) => {
      await engine.relay(tenantId, messageIds)
    },
  })
  const deliverJob = app.jobs.define({
    name: 'webhooks.deliver',
    schema: z.object({ tenantId: z.uuid(), deliveryId: z.uuid() }).strict(),
    concurrency: options.delivery.concurrency,
    // Attempts are counted in the delivery's row; a job is retried only when the database or
    // the queue failed around the attempt.
    attempts: 3,
    handler: async ({ tenantId, deliveryId }, context) => {
      const report = await engine.run(tenantId, deliveryId)
      if (report.capped) {
        app.log.debug(
          { job: 'webhooks.deliver', jobId: context.id, tenantId, deliveryId },
          'webhooks: the tenant has every delivery slot in use; a running delivery takes this one in turn',
        )
      }
    },
  })
  const disabledMailJob = app.jobs.define({
    name: 'webhooks.disabled-mail',
    schema: z
      .object({ tenantId: z.uuid(), endpointId: z.uuid(), reason: z.enum(['gone', 'failing']) })
      .strict(),
    concurrency: 2,
    handler: async (event) => {
      await mailEndpointDisabled(
        app.prisma as unknown as TransactionalClient,
        app.mailer,
        event,
        clock(),
        canManageWebhooks(app),
      )
    },
  })
  const replayJob = app.jobs.define({
    name: 'webhooks.replay',
    schema: z.object({ tenantId: z.uuid(), replayId: z.uuid() }).strict(),
    concurrency: 2,
    // Idempotent: a retried run goes on where the failed one stopped.
    attempts: 3,
    handler: async ({ tenantId, replayId }, context) => {
      const { total } = await replays.run(tenantId, replayId)
      app.log.info(
        { job: 'webhooks.replay', jobId: context.id, tenantId, replayId, total },
        'webhook replay queued its deliveries',
      )
    },
  })
  const replays = new ReplayService({
    prisma: app.prisma as unknown as TransactionalClient,
    clock,
    batchSize: options.delivery.sweepBatch,
    perTenantConcurrency: options.delivery.perTenantConcurrency,
    enqueueReplay: async (job) => {
      await replayJob.enqueue(job, { jobId: `replay.${job.replayId}` })
    },
    enqueueAttempt: async (job, jobOptions) => {
      await deliverJob.enqueue(job, jobOptions)
    },
  })
  const sweepJob = app.jobs.define({
    name: 'webhooks.sweep',
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async () => {
      await engine.sweep()
    },
  })
  const purge = () =>
    purgeMessages(app.prisma as unknown as TransactionalClient, clock, {
      retentionDays: options.retention.retentionDays,
      batchSize: options.retention.batchSize,
    })
  const retentionJob = app.jobs.define({
    name: 'webhooks.retention',
    schema: z.object({}).strict(),
    concurrency: 1,
    handler: async (_payload, context) => {
      const report = await purge()
      app.log.info(
        { job: 'webhooks.retention', jobId: context.id, ...report },
        'webhook retention done',
      )
    },
  })
  const engine = new DeliveryEngine({
    prisma: app.prisma as unknown as TransactionalClient,
    clock,
    vault,
    guard,
    settings: {
      retryScheduleSeconds: options.retryScheduleSeconds,
      timeoutMs: options.timeoutMs,
      disableAfterFailingSeconds: options.disableAfterFailingSeconds,
      sweepBatch: options.delivery.sweepBatch,
      perTenantConcurrency: options.delivery.perTenantConcurrency,
    },
    // Leases on the webhooks clock, like the deliveries' own: tests move both together.
    slots: new TenantSlots(
      createCounterStore({
        redis: app.redis,
        clock,
        prefix: `${app.redisKeyPrefix}counters:`,
        timeoutMs: 2_000,
      }),
      options.delivery.perTenantConcurrency,
      options.timeoutMs + LEASE_MARGIN_MS,
    ),
    enqueueAttempt: async (job, jobOptions) => {
      await deliverJob.enqueue(job, jobOptions)
    },
    enqueueRelay: async (job) => {
      await relayJob.enqueue(job)
    },
    takeRate: async (endpointId, perSecond) => {
      const decision = await app.counters.gcra(`webhooks:endpoint:${endpointId}`, {
        limit: perSecond,
        periodMs: 1_000,
      })
      return decision.allowed ? 0 : Math.max(1, decision.retryAfterMs)
    },
    onDisabled: async (event) => {
      await app.events.emit('webhook.endpoint.disabled', event)
      if (!options.mailAdminsOnDisable) return
      // A job of its own: the lookup and the mails are retried apart from the delivery run.
      await disabledMailJob.enqueue(event).catch((error: unknown) => {
        app.log.warn(
          { err: error, tenantId: event.tenantId, endpointId: event.endpointId },
          'webhooks: the mail about a disabled endpoint was not queued',
        )
      })
    },
  })

  // Messages sent during a request, relayed once the request's transaction has committed
  // (request.db commits before the response): by request id.
  const sentInRequest = new Map<string, Array<{ tenantId: string; id: string }>>()
  const relayAfterResponse = (requestId: string, log: FastifyInstance['log']) => {
    const sent = sentInRequest.get(requestId)
    if (!sent) return
    sentInRequest.delete(requestId)
    const byTenant = new Map<string, string[]>()
    for (const message of sent)
      byTenant.set(message.tenantId, [...(byTenant.get(message.tenantId) ?? []), message.id])
    for (const [tenantId, messageIds] of byTenant) {
      // Not awaited by the response; a failure here is what the sweeper is for.
      relayJob.enqueue({ tenantId, messageIds }).catch((error: unknown) => {
        log.warn({ err: error }, 'webhooks: relay not queued; the sweeper will relay')
      })
    }
  }
  app.addHook('onResponse', (request, _reply, done) => {
    relayAfterResponse(request.id, request.log)
    done()
  })
  app.addHook('onRequestAbort', (request, done) => {
    relayAfterResponse(request.id, request.log)
    done()
  })

  const services: WebhooksServices = {
    defineEventType: (definition) => catalog.define(definition),
    eventTypes: () => catalog.list(),
    checkUrl,
    async send(db, tenantId, type, payload) {
      const sent = await writeOutbox(
        db,
        { catalog, clock, maxPayloadBytes: options.maxPayloadBytes },
        tenantId,
        type,
        payload,
      )
      const requestId = getRequestContext()?.requestId
      if (requestId) {
        const list = sentInRequest.get(requestId) ?? []
        list.push({ tenantId, id: sent.id })
        sentInRequest.set(requestId, list)
      }
      return sent
    },
    sweep: () => engine.sweep(),
    purge,
  }
  app.decorate('webhooks', services)
  scheduleOnReady(
    app,
    sweepJob,
    options.delivery.worker ? { every: options.delivery.sweepEverySeconds * 1000 } : null,
    '@acme/webhooks',
  )
  scheduleOnReady(
    app,
    retentionJob,
    options.retention.enabled ? options.retention.schedule : null,
    '@acme/webhooks',
  )
  // Runs stop taking the tenant's next delivery once the app is closing (before the job runner
  // waits for them); what is left is due, and the sweeper of a running instance queues it.
  app.addHook('preClose', (done) => {
    engine.stop()
    done()
  })
  if (options.delivery.worker) {
    // After a restart, rows a crash left behind go out now rather than one interval later.
    app.addHook('onReady', async () => {
      sweepJob.enqueue({}).catch((error: unknown) => {
        app.log.warn({ err: error }, 'webhooks: first sweep not queued')
      })
    })
  }

  app.openapi.addWebhooks(() => openApiWebhooks(catalog.list()))
  app.openapi.addTag({
    name: 'webhooks',
    description:
      'The tenant’s webhook endpoints, the event types they receive and their deliveries.',
  })
  await app.register(
    async (scope) => {
      await scope.register(eventTypeRoutes, { catalog })
      await scope.register(endpointRoutes, { endpoints, catalog, checkUrl })
      await scope.register(signingKeyRoutes, {
        signingKeys: new SigningKeyService({ vault, clock }),
      })
      await scope.register(deliveryRoutes, {
        log: new DeliveryLog(clock),
        replays,
        prefix: options.prefix,
        enqueueAttempt: async (job, jobId) => {
          await deliverJob.enqueue(job, { jobId })
        },
      })
    },
    { prefix: options.prefix },
  )
}

/** Webhooks: register after `@acme/core`, `@acme/auth`, `@acme/tenancy` (and `@acme/rbac`). */
export const acmeWebhooks = fp(registerWebhooks, {
  name: '@acme/webhooks',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth', '@acme/tenancy'],
})

export default acmeWebhooks

export { WebhooksErrors } from './errors.js'
export { type EventTypeInfo, endpointWants, filterMatches } from './event-types.js'
export type { EndpointDisabledMail } from './mail.js'
export {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  type ResolvedWebhooksOptions,
  type WebhooksOptions,
} from './options.js'
export { WEBHOOKS_PERMISSIONS } from './permissions.js'
export * from './receiver/index.js'
export type { ReplayState, ReplayView } from './services/replays.js'
export { generateSecret, signatureHeader, signedHeaders } from './services/secrets.js'
export type { SigningKeyView } from './services/signing-keys.js'
export type { SqlClient } from './sql.js'
export { type AddressClass, classifyAddress } from './ssrf/address.js'
export type {
  EndpointConfiguration,
  WebhookDisabledReason,
  WebhookEndpointView,
  WebhookEventName,
  WebhookEventTypeDefinition,
  WebhookEventTypes,
  WebhooksServices,
} from './types.js'
