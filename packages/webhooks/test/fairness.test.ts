import type { ServerResponse } from 'node:http'
import { manualClock, waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SqlClient } from '../src/index.js'
import {
  bearer,
  createTenant,
  createWebhooksApp,
  newEncryptionKey,
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
// Shared by the second instance of the cross-instance test: both read the endpoints' secrets.
const encryptionKey = newEncryptionKey()
// And one clock, as synced instances have: slot leases expire by it, so two frozen clocks minutes
// apart (a slow run reaching the test late) would disagree on which leases are live.
const time = manualClock(new Date())

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
      encryptionKey,
      clock: time.now,
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

    // Once the receiver answers, the two attempts in flight take the tenant's other deliveries
    // in turn: no sweep is needed (the sweeper runs once an hour here).
    receiver.answer('/dead', (_received, response) => response.writeHead(200).end())
    for (const response of held) response.writeHead(200).end()
    await waitFor(async () => (await statuses(dead.id)).every((status) => status === 'delivered'), {
      timeoutMs: 60_000,
      intervalMs: 200,
    })
    const ids = receiver.at('/dead').map((entry) => entry.headers['webhook-id'])
    // The two held attempts were answered too: each message once.
    expect(new Set(ids).size).toBe(10)
    expect(ids).toHaveLength(10)
  })

  it("one tenant's burst flows at its cap without the sweeper, each message received once", async () => {
    const carol = await signUp(t, 'carol@fair.test')
    const busy = await createTenant(t, carol.token, 'Busy')
    const burst = await endpointFor(carol.token, busy.id, '/burst')
    let open = 0
    let most = 0
    receiver.answer('/burst', (_received, response) => {
      open++
      most = Math.max(most, open)
      // Answered a little later, so attempts in flight overlap as they would on a real network.
      setTimeout(() => {
        open--
        response.writeHead(204).end()
      }, 5)
    })

    await send(busy.id, 60)
    // One sweep relays the burst; from there no sweep runs, and every delivery still goes out.
    await t.app.webhooks.sweep()
    await waitFor(
      async () => {
        const all = await statuses(burst.id)
        return all.length === 60 && all.every((status) => status === 'delivered')
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    )
    expect(most).toBeLessThanOrEqual(2)
    const ids = receiver.at('/burst').map((entry) => entry.headers['webhook-id'])
    expect(ids).toHaveLength(60)
    expect(new Set(ids).size).toBe(60)
  })

  it('the cap holds across instances: a second instance finds the tenant at its cap', async () => {
    const dave = await signUp(t, 'dave@fair.test')
    const shared = await createTenant(t, dave.token, 'Shared')
    const endpoint = await endpointFor(dave.token, shared.id, '/shared')
    const waiting: ServerResponse[] = []
    receiver.answer('/shared', (_received, response) => {
      waiting.push(response)
    })
    // Same database, same queues and counters; its own workers.
    const other = await createWebhooksApp(
      {
        encryptionKey,
        clock: time.now,
        timeoutMs: 60_000,
        ssrf: { allowAddresses: ['127.0.0.1'] },
        delivery: { sweepEverySeconds: 3_600, concurrency: 8, perTenantConcurrency: 2 },
      },
      {
        label: 'webhooks_fairness_b',
        database: t.db,
        ...(t.redisPrefix ? { redisPrefix: t.redisPrefix } : {}),
        routes: projectRoutes,
      },
    )
    try {
      await send(shared.id, 3)
      await t.app.webhooks.sweep()
      await waitFor(() => receiver.at('/shared').length === 2, SLOW)
      // The third delivery's job, until the second instance's worker is the one taking it (both
      // instances work the shared queue): it finds both slots in use, held by attempts of the
      // first instance, and leaves the delivery to them.
      const [third] = await sql<{ id: string }>(
        t.db.owner.url,
        'SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND attempts = 0',
        [endpoint.id],
      )
      const capped = () =>
        other.logs.some(
          (line) =>
            typeof line.msg === 'string' &&
            line.msg.startsWith('webhooks: the tenant has every delivery slot in use') &&
            line.deliveryId === third?.id,
        )
      let tries = 0
      await waitFor(async () => {
        if (capped()) return true
        await other.app.jobs.enqueue(
          'webhooks.deliver',
          { tenantId: shared.id, deliveryId: third?.id ?? '' },
          { jobId: `cap-check-${++tries}` },
        )
        return false
      }, SLOW)
      expect(receiver.at('/shared')).toHaveLength(2)
      expect((await statuses(endpoint.id)).sort()).toEqual(['pending', 'pending', 'pending'])

      // Answered: the attempts in flight take the third in turn.
      receiver.answer('/shared', (_received, response) => response.writeHead(204).end())
      for (const response of waiting) response.writeHead(204).end()
      await waitFor(
        async () => (await statuses(endpoint.id)).every((status) => status === 'delivered'),
        SLOW,
      )
      expect(receiver.at('/shared')).toHaveLength(3)
    } finally {
      for (const response of waiting) if (!response.writableEnded) response.writeHead(204).end()
      await other.close()
    }
  })
})
