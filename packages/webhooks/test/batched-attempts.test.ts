import { randomUUID } from 'node:crypto'
import { type ManualClock, manualClock, waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimDeliveries } from '../src/delivery/claim.js'
import { type Step, StepBatcher } from '../src/delivery/step-batcher.js'
import { DEFAULT_RETRY_SCHEDULE_SECONDS, type SqlClient } from '../src/index.js'
import { inTenant, type TransactionalClient } from '../src/sql.js'
import {
  bearer,
  createTenant,
  createWebhooksApp,
  signUp,
  sql,
  type WebhooksTestApp,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'
import { type Receiver, startReceiver, status } from './support/receiver.js'

let t: WebhooksTestApp
let time: ManualClock
let receiver: Receiver
const disabledEvents: Array<{ endpointId: string; reason: string }> = []

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600, concurrency: 8, perTenantConcurrency: 6 },
    },
    {
      label: 'webhooks_batched',
      routes: (app) => {
        projectRoutes(app)
        app.events.on('webhook.endpoint.disabled', (event) => {
          disabledEvents.push(event.payload)
        })
      },
    },
  )
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

const prisma = () => t.app.prisma as unknown as TransactionalClient

async function endpointFor(token: string, tenantId: string, path: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenantId}/webhooks/endpoints`,
    headers: bearer(token),
    payload: { url: receiver.url(path), eventTypes: ['invoice.paid'] },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string }>()
}

async function send(tenantId: string, count: number) {
  const client = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
  }
  await client.$transaction(async (tx) => {
    for (let n = 0; n < count; n++) {
      await t.app.webhooks.send(tx, tenantId, 'invoice.paid', { invoiceId: `inv_${n}`, amount: n })
    }
  })
}

type Row = { id: string; status: string; attempts: number; lease_until: Date | null }
const deliveriesOf = (endpointId: string) =>
  sql<Row>(
    t.db.owner.url,
    'SELECT id, status, attempts, lease_until FROM webhook_deliveries WHERE endpoint_id = $1',
    [endpointId],
  )
const logOf = (endpointId: string) =>
  sql<{ delivery_id: string; attempt: number; status: number | null; outcome: string }>(
    t.db.owner.url,
    `SELECT a.delivery_id, a.attempt, a.status, a.outcome FROM webhook_attempts a
     JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1`,
    [endpointId],
  )

describe('attempts of one tenant recorded together', () => {
  it('a burst to endpoints answering 2xx, 500 and 410 at once: each attempt keeps its own outcome', async () => {
    const user = await signUp(t, 'alice@batched.test')
    const tenant = await createTenant(t, user.token, 'Mixed')
    const ok = await endpointFor(user.token, tenant.id, '/ok')
    const flaky = await endpointFor(user.token, tenant.id, '/flaky')
    const gone = await endpointFor(user.token, tenant.id, '/gone')
    receiver.answer('/ok', (_received, response) => {
      setTimeout(() => response.writeHead(204).end(), 2)
    })
    receiver.answer('/flaky', status(500))
    receiver.answer('/gone', status(410))

    await send(tenant.id, 30)
    await t.app.webhooks.sweep()
    // Settled: nothing leased, nothing due now (the clock stands still, so a retry is not).
    const settled = (rows: Row[]) =>
      rows.length === 30 &&
      rows.every(
        (row) => row.lease_until === null && (row.status !== 'pending' || row.attempts > 0),
      )
    await waitFor(
      async () => {
        const all = await Promise.all([ok, flaky, gone].map((e) => deliveriesOf(e.id)))
        return all.every(settled)
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    )

    // Delivered once each, each with its own log row.
    const delivered = await deliveriesOf(ok.id)
    expect(delivered.every((row) => row.status === 'delivered' && row.attempts === 1)).toBe(true)
    const okLog = await logOf(ok.id)
    expect(okLog).toHaveLength(30)
    expect(new Set(okLog.map((entry) => entry.delivery_id)).size).toBe(30)
    expect(okLog.every((entry) => entry.status === 204 && entry.outcome === 'delivered')).toBe(true)
    const okIds = receiver.at('/ok').map((entry) => entry.headers['webhook-id'])
    expect(new Set(okIds).size).toBe(30)
    expect(okIds).toHaveLength(30)

    // Failed once each and due again on the schedule, not delivered with the others.
    const retrying = await sql<{ status: string; attempts: number; next_attempt_at: Date }>(
      t.db.owner.url,
      'SELECT status, attempts, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1',
      [flaky.id],
    )
    const firstDelay = (DEFAULT_RETRY_SCHEDULE_SECONDS[0] ?? 0) * 1000
    for (const row of retrying) {
      expect(row.status).toBe('pending')
      expect(row.attempts).toBe(1)
      const wait = row.next_attempt_at.getTime() - time.now().getTime()
      expect(wait).toBeGreaterThanOrEqual(firstDelay * 0.9 - 1)
      expect(wait).toBeLessThanOrEqual(firstDelay * 1.1 + 1)
    }
    const flakyLog = await logOf(flaky.id)
    expect(flakyLog).toHaveLength(30)
    expect(flakyLog.every((entry) => entry.status === 500 && entry.outcome === 'failed')).toBe(true)

    // The 410 disabled the endpoint once, whatever else was in flight to it; the attempts it
    // had made are failed, the rest cancelled, and the receiver saw only those attempts.
    const [endpoint] = await sql<{ enabled: boolean; disabled_reason: string }>(
      t.db.owner.url,
      'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1',
      [gone.id],
    )
    expect(endpoint).toEqual({ enabled: false, disabled_reason: 'gone' })
    expect(disabledEvents.filter((event) => event.endpointId === gone.id)).toEqual([
      { tenantId: tenant.id, endpointId: gone.id, reason: 'gone' },
    ])
    const goneRows = await deliveriesOf(gone.id)
    const attempted = goneRows.filter((row) => row.status === 'failed')
    expect(attempted.length).toBeGreaterThanOrEqual(1)
    expect(goneRows.filter((row) => row.status === 'cancelled')).toHaveLength(30 - attempted.length)
    expect(receiver.at('/gone')).toHaveLength(attempted.length)
    const goneLog = await logOf(gone.id)
    expect(goneLog).toHaveLength(attempted.length)
    expect(goneLog.every((entry) => entry.status === 410 && entry.outcome === 'gone')).toBe(true)
  })

  it('an attempt whose record cannot be written fails its own run only', async () => {
    const user = await signUp(t, 'bob@batched.test')
    const tenant = await createTenant(t, user.token, 'Isolated')
    const endpoint = await endpointFor(user.token, tenant.id, '/isolated')
    // Three deliveries as the relay makes them, claimed as a run does.
    await send(tenant.id, 3)
    const messages = await sql<{ id: string }>(
      t.db.owner.url,
      'SELECT id FROM webhook_messages WHERE tenant_id = $1',
      [tenant.id],
    )
    for (const message of messages) {
      await sql(
        t.db.owner.url,
        `INSERT INTO webhook_deliveries (id, tenant_id, message_id, endpoint_id, status, attempts,
           next_attempt_at, created_at, updated_at)
         VALUES (gen_random_uuid(), $1, $2, $3, 'pending', 0, $4, $4, $4)`,
        [tenant.id, message.id, endpoint.id, time.now()],
      )
    }
    const now = time.now()
    const claimed = await inTenant(prisma(), tenant.id, (tx) =>
      claimDeliveries(tx, tenant.id, null, {
        now,
        leaseUntil: new Date(now.getTime() + 60_000),
        limit: 3,
      }),
    )
    expect(claimed).toHaveLength(3)
    const step = (deliveryId: string, endpointId: string, messageId: string): Step => ({
      claimed: { deliveryId, attempts: 1, endpointId, messageId },
      response: {
        kind: 'posted',
        result: { status: 204, headers: {}, body: '', durationMs: 3 },
        failure: null,
      },
      at: now,
      wantsNext: false,
    })
    const batcher = new StepBatcher({
      prisma: prisma(),
      clock: time.now,
      settings: { retryScheduleSeconds: [5], disableAfterFailingSeconds: 3600 },
      leaseMs: 60_000,
    })
    const [a, b, c] = claimed.map((row) => step(row.deliveryId, row.endpointId, row.messageId))
    if (!a || !b || !c) throw new Error('three claims expected')
    // A delivery that does not exist (deleted meanwhile): its log row cannot reference it.
    const orphan = step(randomUUID(), endpoint.id, a.claimed.messageId)
    const results = await Promise.allSettled([
      batcher.submit(tenant.id, a),
      batcher.submit(tenant.id, b),
      batcher.submit(tenant.id, orphan),
      batcher.submit(tenant.id, c),
    ])
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ])
    const rows = await deliveriesOf(endpoint.id)
    expect(rows.map((row) => row.status)).toEqual(['delivered', 'delivered', 'delivered'])
    expect(await logOf(endpoint.id)).toHaveLength(3)
  })
})
