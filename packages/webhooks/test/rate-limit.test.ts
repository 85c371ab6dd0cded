import { type ManualClock, manualClock, waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SqlClient } from '../src/index.js'
import {
  bearer,
  createTenant,
  createWebhooksApp,
  signUp,
  sql,
  type WebhooksTestApp,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'
import { type Receiver, startReceiver } from './support/receiver.js'

let t: WebhooksTestApp
let time: ManualClock
let receiver: Receiver

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600, concurrency: 8 },
    },
    { label: 'webhooks_rate', routes: projectRoutes },
  )
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

describe('an endpoint’s own rate limit', () => {
  it('sends at most its rate at once; the rest wait, uncounted, and go out as the rate allows', async () => {
    const user = await signUp(t, 'alice@rate.test')
    const tenant = await createTenant(t, user.token, 'Alpha')
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/webhooks/endpoints`,
      headers: bearer(user.token),
      payload: { url: receiver.url('/rated'), eventTypes: ['invoice.paid'], rateLimitPerSecond: 1 },
    })
    expect(created.statusCode).toBe(201)
    const endpoint = created.json<{ id: string }>()
    const prisma = t.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    await prisma.$transaction(async (tx) => {
      for (let n = 0; n < 6; n++) {
        await t.app.webhooks.send(tx, tenant.id, 'invoice.paid', {
          invoiceId: `inv_${n}`,
          amount: n,
        })
      }
    })
    await t.app.webhooks.sweep()
    const rows = () =>
      sql<{ status: string; attempts: number; lease_until: Date | null; next_attempt_at: Date }>(
        t.db.owner.url,
        'SELECT status, attempts, lease_until, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1',
        [endpoint.id],
      )
    // Every job has run: one delivered (two if the jobs straddled a refill on a loaded machine),
    // the rest put back without an attempt counted or logged.
    const first = await waitFor(
      async () => {
        const all = await rows()
        // Put back: pending, no attempt, due later than the relay made it (`now`).
        const settledRow = (row: (typeof all)[number]) =>
          row.status === 'delivered' ||
          (row.status === 'pending' &&
            row.attempts === 0 &&
            row.lease_until === null &&
            row.next_attempt_at.getTime() > time.now().getTime())
        return all.length === 6 && all.every(settledRow) ? all : false
      },
      { timeoutMs: 30_000, intervalMs: 25 },
    )
    const delivered = first.filter((row) => row.status === 'delivered').length
    expect(delivered).toBeGreaterThanOrEqual(1)
    expect(delivered).toBeLessThanOrEqual(2)
    expect(first.filter((row) => row.status === 'pending' && row.attempts === 0)).toHaveLength(
      6 - delivered,
    )
    expect(receiver.at('/rated')).toHaveLength(delivered)
    const [logged] = await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM webhook_attempts',
    )
    expect(logged?.n).toBe(delivered)

    // As time passes (the rate's, in Redis, and the schedule's), the rest go out.
    await waitFor(
      async () => {
        time.advance(1_000)
        await t.app.webhooks.sweep()
        return (await rows()).every((row) => row.status === 'delivered')
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    expect(receiver.at('/rated')).toHaveLength(6)
  })
})
