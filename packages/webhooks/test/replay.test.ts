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
let alice: { userId: string; token: string }
let viewer: { userId: string; token: string }
let bob: { userId: string; token: string }
let tenantA: { id: string }
let tenantB: { id: string }

const SLOW = { timeoutMs: 45_000, intervalMs: 50 }
const CAP = 2

interface Replay {
  id: string
  endpointId: string
  state: string
  total: number
  done: number
  delivered: number
  error: string | null
}

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      // One attempt, then `failed`: the failures to replay come at once.
      retryScheduleSeconds: [],
      delivery: { sweepEverySeconds: 3_600, concurrency: 8, perTenantConcurrency: CAP },
    },
    { label: 'webhooks_replay', routes: projectRoutes },
  )
  alice = await signUp(t, 'alice@replay.test')
  viewer = await signUp(t, 'viewer@replay.test')
  bob = await signUp(t, 'bob@replay.test')
  tenantA = await createTenant(t, alice.token, 'Alpha')
  tenantB = await createTenant(t, bob.token, 'Beta')
  await t.app.tenancy.tenants.addMember(tenantA.id, viewer.userId, ['viewer'])
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

async function createEndpoint(path: string): Promise<string> {
  const response = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenantA.id}/webhooks/endpoints`,
    headers: bearer(alice.token),
    payload: { url: receiver.url(path), eventTypes: ['invoice.paid'] },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string }>().id
}

async function sendInvoices(count: number, prefix: string): Promise<string[]> {
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number }): Promise<R>
  }
  return prisma.$transaction(
    async (tx) => {
      const ids: string[] = []
      for (let i = 0; i < count; i++) {
        const sent = await t.app.webhooks.send(tx, tenantA.id, 'invoice.paid', {
          invoiceId: `${prefix}_${i}`,
          amount: i,
        })
        ids.push(sent.id)
      }
      return ids
    },
    { maxWait: 20_000 },
  )
}

const statuses = (endpointId: string) =>
  sql<{ status: string; n: number }>(
    t.db.owner.url,
    'SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status',
    [endpointId],
  )

/** Sends `count` events the endpoint fails, and waits until every delivery is `failed`. */
async function failedDeliveries(endpointId: string, path: string, count: number) {
  receiver.answer(path, status(500))
  const since = time.now().toISOString()
  const ids = await sendInvoices(count, path.slice(1))
  await t.app.webhooks.sweep()
  await waitFor(async () => {
    const rows = await statuses(endpointId)
    return rows.length === 1 && rows[0]?.status === 'failed' && rows[0].n === count
  }, SLOW)
  return { since, ids }
}

const startReplay = (endpointId: string, since: string, token = alice.token) =>
  t.app.inject({
    method: 'POST',
    url: `/tenants/${tenantA.id}/webhooks/endpoints/${endpointId}/replay`,
    headers: bearer(token),
    payload: { since },
  })

const progress = (replayId: string, token = alice.token, tenant = tenantA) =>
  t.app.inject({
    method: 'GET',
    url: `/tenants/${tenant.id}/webhooks/replays/${replayId}`,
    headers: bearer(token),
  })

describe('replaying an endpoint’s failures as a background job', () => {
  it('answers 202 with the job and its location; progress reaches done; same webhook-ids', async () => {
    const endpointId = await createEndpoint('/batch')
    const { since, ids } = await failedDeliveries(endpointId, '/batch', 5)
    receiver.answer('/batch', status(204))
    const started = await startReplay(endpointId, since)
    expect(started.statusCode).toBe(202)
    const replay = started.json<Replay>()
    expect(replay).toMatchObject({ endpointId, state: expect.stringMatching(/queued|running/) })
    expect(started.headers.location).toBe(`/tenants/${tenantA.id}/webhooks/replays/${replay.id}`)
    const finished = await waitFor(async () => {
      const body = (await progress(replay.id)).json<Replay>()
      return body.state === 'done' ? body : false
    }, SLOW)
    expect(finished).toMatchObject({ total: 5, done: 5, delivered: 5, error: null })
    expect(await statuses(endpointId)).toEqual([{ status: 'delivered', n: 5 }])
    // Each message twice: its failed first attempt and its replay, with the same webhook-id.
    const seen = receiver.at('/batch').map((entry) => entry.headers['webhook-id'])
    expect([...seen].sort()).toEqual([...ids, ...ids].sort())
  })

  it('a double click starts one replay: both answers name the same job, the work is done once', async () => {
    const endpointId = await createEndpoint('/double')
    const { since, ids } = await failedDeliveries(endpointId, '/double', 3)
    receiver.answer('/double', status(204))
    const [first, second] = await Promise.all([
      startReplay(endpointId, since),
      startReplay(endpointId, since),
    ])
    expect(first?.statusCode).toBe(202)
    expect(second?.statusCode).toBe(202)
    expect(second?.json<Replay>().id).toBe(first?.json<Replay>().id)
    const id = first?.json<Replay>().id as string
    await waitFor(async () => (await progress(id)).json<Replay>().state === 'done', SLOW)
    expect(receiver.at('/double')).toHaveLength(ids.length * 2)
    const [{ n }] = (await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM webhook_replays WHERE endpoint_id = $1',
      [endpointId],
    )) as [{ n: number }]
    expect(n).toBe(1)
    // Once done, a new click is a new replay (with nothing left to replay).
    const later = await startReplay(endpointId, since)
    expect(later.json<Replay>().id).not.toBe(id)
  })

  it('sends through the delivery engine, never past the tenant’s cap', async () => {
    const endpointId = await createEndpoint('/capped')
    const { since } = await failedDeliveries(endpointId, '/capped', 8)
    let inFlight = 0
    let most = 0
    receiver.answer('/capped', (_received, response) => {
      inFlight++
      most = Math.max(most, inFlight)
      // A slow receiver: the runs overlap if the cap lets them.
      setTimeout(() => {
        inFlight--
        response.writeHead(204).end()
      }, 150)
    })
    const replay = (await startReplay(endpointId, since)).json<Replay>()
    const finished = await waitFor(async () => {
      const body = (await progress(replay.id)).json<Replay>()
      return body.state === 'done' ? body : false
    }, SLOW)
    expect(finished).toMatchObject({ total: 8, done: 8, delivered: 8 })
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(CAP)
  })

  it('is the tenant’s: another tenant’s id answers 404, its owner cannot read A’s', async () => {
    const endpointId = await createEndpoint('/private')
    const { since } = await failedDeliveries(endpointId, '/private', 1)
    const replay = (await startReplay(endpointId, since)).json<Replay>()
    const fromB = await progress(replay.id, bob.token, tenantB)
    expect(fromB.statusCode).toBe(404)
    expect(fromB.headers['content-type']).toContain('application/problem+json')
    expect(fromB.json()).toMatchObject({ code: 'ACME_WEBHOOKS_REPLAY_NOT_FOUND' })
    const bobOnA = await progress(replay.id, bob.token, tenantA)
    expect(bobOnA.statusCode).toBeGreaterThanOrEqual(403)
    // A problem document (its `instance` is the path asked), never the replay's progress.
    expect(bobOnA.json()).not.toHaveProperty('total')
    expect(bobOnA.body).not.toContain(endpointId)
  })

  it('needs webhooks:manage to start, refuses a disabled endpoint, and validates its input', async () => {
    const endpointId = await createEndpoint('/guarded')
    const since = time.now().toISOString()
    expect((await startReplay(endpointId, since, viewer.token)).statusCode).toBe(403)
    const bad = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenantA.id}/webhooks/endpoints/${endpointId}/replay`,
      headers: bearer(alice.token),
      payload: { since: 'yesterday' },
    })
    expect(bad.statusCode).toBe(400)
    await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenantA.id}/webhooks/endpoints/${endpointId}`,
      headers: bearer(alice.token),
      payload: { enabled: false },
    })
    const disabled = await startReplay(endpointId, since)
    expect(disabled.statusCode).toBe(409)
    expect(disabled.json()).toMatchObject({ code: 'ACME_WEBHOOKS_NOT_RESENDABLE' })
    const [{ n }] = (await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM webhook_replays WHERE endpoint_id = $1',
      [endpointId],
    )) as [{ n: number }]
    expect(n).toBe(0)
  })
})
