import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenant,
  createWebhooksApp,
  signUp,
  sql,
  type WebhooksTestApp,
} from './support/app.js'

let t: WebhooksTestApp
let quiet: { id: string }
let busy: { id: string }

const BACKLOG = 50_000

/** Seeds, as the owner, one endpoint per tenant and `count` due deliveries for it. */
async function seed(tenantId: string, count: number, status: string): Promise<void> {
  await sql(
    t.db.owner.url,
    `WITH e AS (
       INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret, created_at, updated_at)
       VALUES (gen_random_uuid(), $1::uuid, 'https://receiver.example/hook', '{}', 'sealed', now(), now())
       RETURNING id
     ), m AS (
       INSERT INTO webhook_messages (id, tenant_id, event_type, payload, created_at, relayed_at)
       SELECT 'msg_' || left($1::text, 8) || '_' || i, $1::uuid, 'invoice.paid', '{}', now(), now()
       FROM generate_series(1, $2::int) AS i
       RETURNING id
     )
     INSERT INTO webhook_deliveries (id, tenant_id, message_id, endpoint_id, status, attempts,
       next_attempt_at, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, m.id, e.id, $3, 1,
       now() - (random() * interval '1 hour'), now(), now()
     FROM m, e`,
    [tenantId, count, status],
  )
}

beforeAll(async () => {
  t = await createWebhooksApp({}, { label: 'webhooks_due_index' })
  const alice = await signUp(t, 'alice@due-index.test')
  quiet = await createTenant(t, alice.token, 'Quiet')
  busy = await createTenant(t, alice.token, 'Busy')
  // Another tenant's backlog of due deliveries, and a quiet tenant with a handful.
  await seed(busy.id, BACKLOG, 'pending')
  await seed(quiet.id, 20, 'pending')
  await sql(t.db.owner.url, 'ANALYZE webhook_deliveries')
})

afterAll(async () => {
  await t?.close()
})

describe('the (tenant_id, status, next_attempt_at) index on deliveries', () => {
  it('serves a run’s “tenant’s next due delivery” query, whatever other tenants have due', async () => {
    // The claim's inner query, as the engine runs it.
    const plan = await sql<{ 'QUERY PLAN': string }>(
      t.db.owner.url,
      `EXPLAIN SELECT id, next_attempt_at FROM webhook_deliveries
       WHERE tenant_id = $1::uuid AND status = 'pending' AND next_attempt_at <= $2
         AND (lease_until IS NULL OR lease_until < $2)
       ORDER BY next_attempt_at LIMIT 10
       FOR UPDATE SKIP LOCKED`,
      [quiet.id, new Date()],
    )
    const text = plan.map((row) => row['QUERY PLAN']).join('\n')
    if (process.env.SHOW_PLAN) console.log(text)
    expect(text).toContain('webhook_deliveries_tenant_id_status_next_attempt_at_idx')
    expect(text).not.toMatch(/Seq Scan on webhook_deliveries/)
  })
})
