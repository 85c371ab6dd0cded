import type {} from '@acme/auth'
import type {} from '@acme/tenancy'
import type { z } from 'zod'
import type { EventTypeInfo } from './event-types.js'
import type { EndpointDisabledMail } from './mail.js'
import type { SqlClient } from './sql.js'

/**
 * Event types the app sends, each with the type of its payload:
 * `declare module '@acme/webhooks' { interface WebhookEventTypes { 'project.created': { id: string } } }`
 * and `app.webhooks.defineEventType({ name: 'project.created', description, schema })`.
 */
export interface WebhookEventTypes {}

export type WebhookEventName = keyof WebhookEventTypes & string

/** `manual` (by the tenant), `gone` (the receiver answered 410), `failing` (for too long). */
export type WebhookDisabledReason = 'manual' | 'gone' | 'failing'

/** An endpoint as the API shows it: never its secret. */
export interface WebhookEndpointView {
  id: string
  url: string
  description: string
  eventTypes: string[]
  enabled: boolean
  /** Why deliveries stopped; null while enabled. */
  disabledReason: WebhookDisabledReason | null
  headers: Record<string, string>
  rateLimitPerSecond: number | null
  failingSince: Date | null
  createdAt: Date
  updatedAt: Date
}

/**
 * An endpoint as its configuration events carry it (and so the audit trail keeps it): header
 * names without their values, which often hold a receiver's credentials; never the secret.
 */
export type EndpointConfiguration = Omit<WebhookEndpointView, 'headers' | 'failingSince'> & {
  headers: string[]
}

/** What `defineEventType` takes. */
export interface WebhookEventTypeDefinition<S extends z.ZodType> {
  name: string
  description: string
  schema: S
}

/** `app.webhooks`. */
export interface WebhooksServices {
  /** Adds an event type to the catalog endpoints filter on (`GET /webhooks/event-types`). */
  defineEventType<S extends z.ZodType>(definition: WebhookEventTypeDefinition<S>): void
  /** The catalog: names, descriptions and payload JSON Schemas. */
  eventTypes(): EventTypeInfo[]
  /** The SSRF check of the registration routes, for hosts that add endpoints their own way. */
  checkUrl(url: string): Promise<void>
  /**
   * Writes the event to the outbox in `db`'s transaction (`request.db`, or the client of your own
   * `$transaction`): it is delivered once that transaction commits, never if it rolls back.
   * Sent during a request, it is relayed as soon as the request's transaction has committed;
   * otherwise the sweeper relays it within `delivery.sweepEverySeconds`.
   */
  send<K extends WebhookEventName>(
    db: SqlClient,
    tenantId: string,
    type: K,
    payload: WebhookEventTypes[K],
  ): Promise<{ id: string }>
  /** Queues what the sweeper would (tests and operations): unrelayed rows and due retries. */
  sweep(): Promise<{ messages: number; deliveries: number }>
  /** Runs the retention purge now, as the scheduled `webhooks.retention` job does. */
  purge(): Promise<{ tenants: number; deleted: number; replays: number }>
}

declare module '@acme/core' {
  interface AcmeJobs {
    /** Fans committed outbox rows out into deliveries. */
    'webhooks.relay': { tenantId: string; messageIds: string[] }
    /** One attempt of one delivery. */
    'webhooks.deliver': { tenantId: string; deliveryId: string }
    /** Makes an endpoint's failed deliveries due again, in batches, and queues their runs. */
    'webhooks.replay': { tenantId: string; replayId: string }
    /** Queues unrelayed outbox rows and due deliveries. */
    'webhooks.sweep': Record<string, never>
    /** Deletes messages past their retention, with their deliveries and attempt log. */
    'webhooks.retention': Record<string, never>
    /** Mails the tenant's owners and admins that the engine disabled an endpoint. */
    'webhooks.disabled-mail': { tenantId: string; endpointId: string; reason: 'gone' | 'failing' }
  }
  interface AcmeMailTemplates {
    /** To each owner and admin of the tenant when the engine disabled one of its endpoints. */
    'webhooks.endpoint-disabled': EndpointDisabledMail
  }
  interface AcmeEvents {
    /** Configuration changes, with header names but never their values or the secret. */
    'webhook.endpoint.created': {
      tenantId: string
      endpointId: string
      after: EndpointConfiguration
    }
    'webhook.endpoint.updated': {
      tenantId: string
      endpointId: string
      before: EndpointConfiguration
      after: EndpointConfiguration
    }
    'webhook.endpoint.deleted': {
      tenantId: string
      endpointId: string
      before: EndpointConfiguration
    }
    /** A new secret; the previous one keeps signing until `previousSecretUntil` (ISO 8601). */
    'webhook.secret.rotated': { tenantId: string; endpointId: string; previousSecretUntil: string }
    /** An endpoint was disabled: its receiver answered 410, or it failed for too long. */
    'webhook.endpoint.disabled': {
      tenantId: string
      endpointId: string
      reason: 'gone' | 'failing'
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly webhooks: WebhooksServices
  }
}

export type { SqlClient }
