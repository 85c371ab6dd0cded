import { RLS_SETTINGS } from '@acme/core'
import { WebhooksErrors } from '../errors.js'
import type { EventTypeCatalog } from '../event-types.js'
import type { SqlClient } from '../sql.js'
import { newMessageId } from './secrets.js'

export interface OutboxDeps {
  catalog: EventTypeCatalog
  clock: () => Date
  maxPayloadBytes: number
}

/**
 * Writes an event to the outbox in the caller's transaction: it commits or rolls back with the
 * caller's own writes, and nothing reaches a receiver before it committed.
 *
 * One statement. In a transaction without a tenant it sets `tenantId` as the transaction's tenant
 * (so row-level security admits the row); in a transaction of another tenant it inserts nothing
 * and `send` throws, rather than switch the caller's transaction to another tenant.
 */
export async function writeOutbox(
  db: SqlClient,
  deps: OutboxDeps,
  tenantId: string,
  eventType: string,
  payload: unknown,
): Promise<{ id: string }> {
  const type = deps.catalog.get(eventType)
  if (!type) {
    throw new WebhooksErrors.InvalidEvent({
      cause: new Error(`webhook event type "${eventType}" is not defined (defineEventType)`),
    })
  }
  const parsed = type.schema.safeParse(payload)
  if (!parsed.success) {
    throw new WebhooksErrors.InvalidEvent({
      cause: new Error(`payload of "${eventType}" refused by its schema: ${parsed.error.message}`),
    })
  }
  const json = JSON.stringify(parsed.data)
  if (Buffer.byteLength(json) > deps.maxPayloadBytes) {
    throw new WebhooksErrors.InvalidEvent({
      cause: new Error(
        `payload of "${eventType}" is over maxPayloadBytes (${deps.maxPayloadBytes})`,
      ),
    })
  }
  const id = newMessageId()
  const setting = RLS_SETTINGS.tenantId
  const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `WITH scope AS (
       SELECT CASE WHEN NULLIF(current_setting('${setting}', true), '') IS NULL
         THEN set_config('${setting}', $2, true)
         ELSE current_setting('${setting}', true) END AS tenant
     )
     INSERT INTO webhook_messages (id, tenant_id, event_type, payload, created_at)
     SELECT $1, $2::uuid, $3, $4::jsonb, $5 FROM scope WHERE scope.tenant = $2
     RETURNING id`,
    id,
    tenantId,
    eventType,
    json,
    deps.clock(),
  )
  if (rows.length === 0) {
    throw new WebhooksErrors.InvalidEvent({
      cause: new Error(`send for tenant ${tenantId} in a transaction of another tenant`),
    })
  }
  return { id }
}
