import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordDeliveredAndClaim } from '../src/delivery/record.js'
import type { SqlClient } from '../src/sql.js'
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

const BACKLOG = 5_000

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

/**
 * What one batch of the engine reads of the deliveries table, counted by PostgreSQL in the batch's
 * own transaction (rolled back): ten of the tenant's deliveries recorded as delivered and its next
 * ten claimed, as `StepBatcher` sends it, on the app role's connection.
 */
async function rowsReadByOneBatch(tenantId: string): Promise<number> {
  const client = new pg.Client({ connectionString: t.db.app.url })
  await client.connect()
  const db: SqlClient = {
    $queryRawUnsafe: async <T>(text: string, ...values: unknown[]) =>
      (await client.query(text, values)).rows as T,
  }
  try {
    await client.query('BEGIN')
    await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId])
    const ids = await client.query<{ id: string; endpoint_id: string }>(
      `SELECT id, endpoint_id FROM webhook_deliveries WHERE tenant_id = $1::uuid LIMIT 10`,
      [tenantId],
    )
    const now = new Date()
    const next = await recordDeliveredAndClaim(
      db,
      tenantId,
      ids.rows.map((row) => ({
        claimed: { deliveryId: row.id, attempts: 1, messageId: 'm', endpointId: row.endpoint_id },
        result: { status: 204, headers: {}, body: '', durationMs: 3 },
        at: now,
      })),
      { now, leaseUntil: new Date(now.getTime() + 60_000), limit: 10 },
    )
    expect(next).toHaveLength(10)
    const [counted] = (
      await client.query<{ read: string }>(
        `SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) AS read FROM pg_stat_xact_user_tables
         WHERE relname = 'webhook_deliveries'`,
      )
    ).rows
    if (process.env.SHOW_PLAN) console.log('rows read', counted)
    return Number(counted?.read)
  } finally {
    await client.query('ROLLBACK').catch(() => undefined)
    await client.end()
  }
}

beforeAll(async () => {
  t = await createWebhooksApp({}, { label: 'webhooks_due_index' })
  const alice = await signUp(t, 'alice@due-index.test')
  quiet = await createTenant(t, alice.token, 'Quiet')
  busy = await createTenant(t, alice.token, 'Busy')
  // Another tenant's backlog of due deliveries, and a quiet tenant with a handful.
  await seed(busy.id, BACKLOG, 'pending')
  await seed(quiet.id, 20, 'pending')
})

afterAll(async () => {
  await t?.close()
})

describe('a batch of the delivery engine', () => {
  it('reads a few dozen rows of a 5,000-delivery backlog before any ANALYZE (a new install)', async () => {
    // Joined to the batch in one statement, PostgreSQL without statistics took the tenant for a
    // handful of rows and read all of them for every batch.
    expect(await rowsReadByOneBatch(busy.id)).toBeLessThan(200)
    expect(await rowsReadByOneBatch(quiet.id)).toBeLessThan(200)
  })

  it('reads as little once the table is analyzed, whatever other tenants have due', async () => {
    await sql(t.db.owner.url, 'ANALYZE webhook_deliveries')
    expect(await rowsReadByOneBatch(busy.id)).toBeLessThan(200)
    expect(await rowsReadByOneBatch(quiet.id)).toBeLessThan(200)
  })
})

describe('the (tenant_id, status, next_attempt_at) index on deliveries', () => {
  it('serves a run’s “tenant’s next due delivery” query, whatever other tenants have due', async () => {
    // The claim's query, as acme_webhooks_claim runs it.
    const plan = await sql<{ 'QUERY PLAN': string }>(
      t.db.owner.url,
      `EXPLAIN SELECT d.id FROM webhook_deliveries d
       WHERE d.tenant_id = $1::uuid AND d.status = 'pending' AND d.next_attempt_at <= $2
         AND (d.lease_until IS NULL OR d.lease_until < $2)
       ORDER BY d.next_attempt_at LIMIT 10
       FOR UPDATE SKIP LOCKED`,
      [quiet.id, new Date()],
    )
    const text = plan.map((row) => row['QUERY PLAN']).join('\n')
    if (process.env.SHOW_PLAN) console.log(text)
    expect(text).toContain('webhook_deliveries_tenant_id_status_next_attempt_at_idx')
    expect(text).not.toMatch(/Seq Scan on webhook_deliveries/)
  })
})
