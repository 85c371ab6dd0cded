import type {} from '@acme/auth'
import { AcmeConfigError, parseOptions, systemClock } from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { WebhooksErrors } from './errors.js'
import { EventTypeCatalog } from './event-types.js'
import { type WebhooksOptions, webhooksOptionsSchema } from './options.js'
import { WEBHOOKS_PERMISSIONS } from './permissions.js'
import { endpointRoutes } from './routes/endpoints.js'
import { eventTypeRoutes } from './routes/event-types.js'
import { EndpointService } from './services/endpoints.js'
import { SecretVault } from './services/secrets.js'
import { checkEndpointUrl, type GuardSettings, SsrfRefusal, systemResolver } from './ssrf/guard.js'
import type { WebhooksServices } from './types.js'

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

  const services: WebhooksServices = {
    defineEventType: (definition) => catalog.define(definition),
    eventTypes: () => catalog.list(),
    checkUrl,
  }
  app.decorate('webhooks', services)

  app.openapi.addTag({
    name: 'webhooks',
    description:
      'The tenant’s webhook endpoints, the event types they receive and their deliveries.',
  })
  await app.register(
    async (scope) => {
      await scope.register(eventTypeRoutes, { catalog })
      await scope.register(endpointRoutes, { endpoints, catalog, checkUrl })
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
export {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  type ResolvedWebhooksOptions,
  type WebhooksOptions,
} from './options.js'
export { WEBHOOKS_PERMISSIONS } from './permissions.js'
export * from './receiver/index.js'
export { generateSecret, signatureHeader, signedHeaders } from './services/secrets.js'
export type { SqlClient } from './sql.js'
export { type AddressClass, classifyAddress } from './ssrf/address.js'
export type {
  WebhookDisabledReason,
  WebhookEndpointView,
  WebhookEventName,
  WebhookEventTypeDefinition,
  WebhookEventTypes,
  WebhooksServices,
} from './types.js'
