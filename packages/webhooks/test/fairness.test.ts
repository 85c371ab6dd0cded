import type { ServerResponse } from 'node:http'
import { manualClock, waitFor } from '@acme/test-kit'
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
let receiver: Receiver
const held: ServerResponse[] = []
const SLOW = { timeoutMs: 30_000, intervalMs: 25 }

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
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
  }
  await prisma.$transaction(async (tx) => {
    for (let n = 0; n < count; n++) {
      await t.app.webhooks.send(tx, tenantId, 'invoice.paid', { invoiceId: `inv_${n}`, amount: n })
    }
  })
}

const statuses = (endpointId: string) =>
  sql<{ status: string }>(
    t.db.owner.url,
    'SELECT status FROM webhook_deliveries WHERE endpoint_id = $1',
    [endpointId],
  ).then((rows) => rows.map((row) => row.status))

beforeAll(async () => {
  receiver = await startReceiver()
  receiver.answer('/dead', (_received, response) => {
    // A receiver that never answers (until the test lets it): each attempt holds its worker.
    held.push(response)
  })
  t = await createWebhooksApp(
    {
      clock: manualClock(new Date()).now,
      timeoutMs: 60_000,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600, concurrency: 8, perTenantConcurrency: 2 },
    },
    { label: 'webhooks_fairness', routes: projectRoutes },
  )
})

afterAll(async () => {
  for (const response of held) if (!response.writableEnded) response.writeHead(200).end()
  await t?.close()
  await receiver?.close()
})

describe('fairness across tenants', () => {
  it('a tenant whose endpoint hangs takes at most its share of workers; another tenant is delivered meanwhile', async () => {
    const alice = await signUp(t, 'alice@fair.test')
    const bob = await signUp(t, 'bob@fair.test')
    const slow = await createTenant(t, alice.token, 'Slow')
    const quick = await createTenant(t, bob.token, 'Quick')
    const dead = await endpointFor(alice.token, slow.id, '/dead')
    const alive = await endpointFor(bob.token, quick.id, '/alive')

    // The slow tenant's burst is queued first, ahead of the quick tenant's one event.
    await send(slow.id, 10)
    await t.app.webhooks.sweep()
    await waitFor(async () => (await statuses(dead.id)).length === 10, SLOW)
    await send(quick.id, 1)
    await t.app.webhooks.sweep()

    await waitFor(async () => (await statuses(alive.id))[0] === 'delivered', SLOW)
    // 8 workers, but the slow tenant holds 2 of them: its other attempts were put back.
    expect(receiver.at('/dead').length).toBeLessThanOrEqual(2)
    expect(await statuses(dead.id)).toHaveLength(10)

    // Once the receiver answers, the rest go out on later sweeps.
    receiver.answer('/dead', (_received, response) => response.writeHead(200).end())
    for (const response of held) response.writeHead(200).end()
    await waitFor(
      async () => {
        await t.app.webhooks.sweep()
        return (await statuses(dead.id)).every((status) => status === 'delivered')
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
  })
})
