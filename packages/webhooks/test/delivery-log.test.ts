import { type ManualClock, manualClock, waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SqlClient } from '../src/index.js'
import {
  bearer,
  createTenant,
  createWebhooksApp,
  signUp,
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
let tenant: { id: string }
let other: { id: string }

const SLOW = { timeoutMs: 30_000, intervalMs: 25 }
const base = () => `/tenants/${tenant.id}/webhooks`

interface Delivery {
  id: string
  messageId: string
  eventType: string
  status: string
  attempts: number
}

async function createEndpoint(path: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: `${base()}/endpoints`,
    headers: bearer(alice.token),
    payload: { url: receiver.url(path), eventTypes: ['invoice.paid'] },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string }>()
}

async function sendInvoice(invoiceId: string): Promise<string> {
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number }): Promise<R>
  }
  const { id } = await prisma.$transaction(
    (tx) => t.app.webhooks.send(tx, tenant.id, 'invoice.paid', { invoiceId, amount: 1 }),
    { maxWait: 20_000 },
  )
  return id
}

const list = async (endpointId: string, token = alice.token, query = '') => {
  const response = await t.app.inject({
    method: 'GET',
    url: `${base()}/endpoints/${endpointId}/deliveries${query}`,
    headers: bearer(token),
  })
  return response
}

/** Waits until the endpoint's only delivery satisfies `done`. */
const settled = (endpointId: string, done: (delivery: Delivery) => boolean) =>
  waitFor(async () => {
    const [delivery] = (await list(endpointId)).json<{ items: Delivery[] }>().items
    return delivery && done(delivery) ? delivery : false
  }, SLOW)

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600, concurrency: 4 },
    },
    { label: 'webhooks_log', routes: projectRoutes },
  )
  alice = await signUp(t, 'alice@log.test')
  viewer = await signUp(t, 'viewer@log.test')
  bob = await signUp(t, 'bob@log.test')
  tenant = await createTenant(t, alice.token, 'Alpha')
  other = await createTenant(t, bob.token, 'Beta')
  await t.app.tenancy.tenants.addMember(tenant.id, viewer.userId, ['viewer'])
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

describe('the delivery log', () => {
  it('lists deliveries and their attempts, with the response, credentials redacted', async () => {
    const endpoint = await createEndpoint('/log')
    receiver.answer('/log', (_received, response) => {
      response.writeHead(500, { 'set-cookie': 'session=secret', 'x-trace': 'abc' })
      response.end('upstream exploded')
    })
    const messageId = await sendInvoice('inv_log')
    await t.app.webhooks.sweep()
    const delivery = await settled(endpoint.id, (d) => d.attempts === 1 && d.status === 'pending')
    expect(delivery).toMatchObject({ messageId, eventType: 'invoice.paid' })
    const attempts = await waitFor(async () => {
      const response = await t.app.inject({
        method: 'GET',
        url: `${base()}/deliveries/${delivery.id}/attempts`,
        headers: bearer(alice.token),
      })
      const items = response.json<{ items: Array<Record<string, unknown>> }>().items
      return items.length === 1 ? items : false
    }, SLOW)
    expect(attempts[0]).toMatchObject({
      attempt: 1,
      status: 500,
      outcome: 'failed',
      error: 'HTTP 500',
      responseBody: 'upstream exploded',
      responseHeaders: { 'set-cookie': '[REDACTED]', 'x-trace': 'abc' },
    })
    const failed = await list(endpoint.id, alice.token, '?status=delivered')
    expect(failed.json()).toEqual({ items: [] })
  })

  it('is for admins, and another tenant’s ids are 404', async () => {
    const endpoint = await createEndpoint('/private')
    expect((await list(endpoint.id, viewer.token)).statusCode).toBe(403)
    await sendInvoice('inv_private')
    await t.app.webhooks.sweep()
    const delivery = await settled(endpoint.id, (d) => d.status === 'delivered')
    for (const url of [
      `/tenants/${other.id}/webhooks/deliveries/${delivery.id}/attempts`,
      `/tenants/${other.id}/webhooks/endpoints/${endpoint.id}/deliveries`,
    ]) {
      const response = await t.app.inject({ method: 'GET', url, headers: bearer(bob.token) })
      expect(response.statusCode, url).toBe(404)
    }
    const resend = await t.app.inject({
      method: 'POST',
      url: `/tenants/${other.id}/webhooks/deliveries/${delivery.id}/resend`,
      headers: bearer(bob.token),
    })
    expect(resend.statusCode).toBe(404)
    expect(resend.json()).toMatchObject({ code: 'ACME_WEBHOOKS_DELIVERY_NOT_FOUND' })
  })
})

describe('resend and replay', () => {
  it('resends a delivered message with the same webhook-id, once', async () => {
    const endpoint = await createEndpoint('/again')
    const messageId = await sendInvoice('inv_again')
    await t.app.webhooks.sweep()
    const delivery = await settled(endpoint.id, (d) => d.status === 'delivered')
    const response = await t.app.inject({
      method: 'POST',
      url: `${base()}/deliveries/${delivery.id}/resend`,
      headers: bearer(alice.token),
    })
    expect(response.statusCode).toBe(202)
    await settled(endpoint.id, (d) => d.status === 'delivered' && d.attempts === 2)
    expect(receiver.at('/again').map((entry) => entry.headers['webhook-id'])).toEqual([
      messageId,
      messageId,
    ])
  })

  it('refuses to resend a pending delivery (409)', async () => {
    const endpoint = await createEndpoint('/pending')
    receiver.answer('/pending', status(500))
    await sendInvoice('inv_pending')
    await t.app.webhooks.sweep()
    const delivery = await settled(endpoint.id, (d) => d.attempts === 1)
    const response = await t.app.inject({
      method: 'POST',
      url: `${base()}/deliveries/${delivery.id}/resend`,
      headers: bearer(alice.token),
    })
    expect(response.statusCode).toBe(409)
    expect(response.json()).toMatchObject({ code: 'ACME_WEBHOOKS_NOT_RESENDABLE' })
  })

  it('replays an endpoint’s failures once it is enabled again', async () => {
    const endpoint = await createEndpoint('/replay')
    receiver.answer('/replay', status(410))
    const since = time.now().toISOString()
    const messageId = await sendInvoice('inv_replay')
    await t.app.webhooks.sweep()
    await settled(endpoint.id, (d) => d.status === 'failed')
    const replay = () =>
      t.app.inject({
        method: 'POST',
        url: `${base()}/endpoints/${endpoint.id}/replay`,
        headers: bearer(alice.token),
        payload: { since },
      })
    // Disabled by the 410: replay waits for the tenant to enable it.
    expect((await replay()).statusCode).toBe(409)
    receiver.answer('/replay', status(200))
    const enabled = await t.app.inject({
      method: 'PATCH',
      url: `${base()}/endpoints/${endpoint.id}`,
      headers: bearer(alice.token),
      payload: { enabled: true },
    })
    expect(enabled.statusCode).toBe(200)
    const response = await replay()
    expect(response.statusCode).toBe(202)
    expect(response.json()).toMatchObject({ endpointId: endpoint.id, since })
    // The replay's job makes the delivery due and queues its run: no sweep needed.
    await settled(endpoint.id, (d) => d.status === 'delivered')
    expect(receiver.at('/replay').map((entry) => entry.headers['webhook-id'])).toEqual([
      messageId,
      messageId,
    ])
  })
})
