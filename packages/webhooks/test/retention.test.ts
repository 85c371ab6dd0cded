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
import { type Receiver, startReceiver, status } from './support/receiver.js'

let t: WebhooksTestApp
let time: ManualClock
let receiver: Receiver
const SLOW = { timeoutMs: 30_000, intervalMs: 25 }

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      // beta's retries must still wait when the purge runs: a retry due by then could fail the
      // endpoint for good and settle them, and which comes first would be a race.
      delivery: { sweepEverySeconds: 3_600 },
      retryScheduleSeconds: [7 * 86_400],
      retention: { retentionDays: 1, batchSize: 1 },
    },
    { label: 'webhooks_retention', routes: projectRoutes },
  )
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

const count = async (table: string) =>
  (await sql<{ n: number }>(t.db.owner.url, `SELECT count(*)::int AS n FROM ${table}`))[0]?.n

describe('payload retention', () => {
  it('deletes settled messages past the retention with their deliveries and log, keeps the rest', async () => {
    const prisma = t.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    const tenants: string[] = []
    for (const name of ['alpha', 'beta']) {
      const user = await signUp(t, `${name}@retention.test`)
      const tenant = await createTenant(t, user.token, name)
      tenants.push(tenant.id)
      const path = `/${name}`
      receiver.answer(path, status(name === 'alpha' ? 204 : 500))
      const response = await t.app.inject({
        method: 'POST',
        url: `/tenants/${tenant.id}/webhooks/endpoints`,
        headers: bearer(user.token),
        payload: { url: receiver.url(path), eventTypes: ['invoice.paid'] },
      })
      expect(response.statusCode).toBe(201)
      for (const invoiceId of ['old_1', 'old_2']) {
        await prisma.$transaction((tx) =>
          t.app.webhooks.send(tx, tenant.id, 'invoice.paid', { invoiceId, amount: 1 }),
        )
      }
    }
    await t.app.webhooks.sweep()
    // alpha's two are delivered; beta's two wait for a retry.
    await waitFor(async () => {
      const rows = await sql<{ status: string; attempts: number; lease_until: Date | null }>(
        t.db.owner.url,
        'SELECT status, attempts, lease_until FROM webhook_deliveries',
      )
      return (
        rows.length === 4 && rows.every((row) => row.attempts === 1 && row.lease_until === null)
      )
    }, SLOW)
    time.advance(2 * 86_400_000)
    const alpha = tenants[0] as string
    await prisma.$transaction((tx) =>
      t.app.webhooks.send(tx, alpha, 'invoice.paid', { invoiceId: 'new', amount: 1 }),
    )

    expect(await t.app.webhooks.purge()).toEqual({ tenants: 2, deleted: 2, replays: 0 })
    const left = await sql<{ tenant_id: string; invoice: string }>(
      t.db.owner.url,
      "SELECT tenant_id, payload->>'invoiceId' AS invoice FROM webhook_messages ORDER BY tenant_id, invoice",
    )
    expect(left).toEqual(
      [
        { tenant_id: alpha, invoice: 'new' },
        { tenant_id: tenants[1], invoice: 'old_1' },
        { tenant_id: tenants[1], invoice: 'old_2' },
      ].sort((a, b) => (a.tenant_id + a.invoice < b.tenant_id + b.invoice ? -1 : 1)),
    )
    // The delivered ones' deliveries and attempt log went with them (cascade).
    expect(await count('webhook_deliveries')).toBe(2)
    expect(await count('webhook_attempts')).toBe(2)
  })
})
