import { type ManualClock, manualClock, waitFor } from '@acme/test-kit'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_RETRY_SCHEDULE_SECONDS, type SqlClient } from '../src/index.js'
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
let tenant: { id: string }
const disabledEvents: Array<{ endpointId: string; reason: string }> = []

const SLOW = { timeoutMs: 30_000, intervalMs: 25 }

async function createEndpoint(path: string, eventTypes: string[]) {
  const response = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenant.id}/webhooks/endpoints`,
    headers: bearer(alice.token),
    payload: { url: receiver.url(path), eventTypes },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string; secret: string }>()
}

type DeliveryRow = {
  id: string
  status: string
  attempts: number
  next_attempt_at: Date | null
  lease_until: Date | null
  message_id: string
}

const deliveriesOf = (endpointId: string) =>
  sql<DeliveryRow>(
    t.db.owner.url,
    'SELECT id, status, attempts, next_attempt_at, lease_until, message_id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at',
    [endpointId],
  )

const attemptsOf = (deliveryId: string) =>
  sql<{ attempt: number; status: number | null; outcome: string; error: string | null }>(
    t.db.owner.url,
    'SELECT attempt, status, outcome, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt',
    [deliveryId],
  )

/** Sends `invoice.paid` in a transaction of the test's own, outside any request. */
async function sendInvoice(invoiceId: string): Promise<string> {
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number }): Promise<R>
  }
  const { id } = await prisma.$transaction(
    (tx) => t.app.webhooks.send(tx, tenant.id, 'invoice.paid', { invoiceId, amount: 4200 }),
    { maxWait: 20_000 },
  )
  return id
}

/** Sweeps, then waits until the endpoint's delivery has made `attempts` attempts. */
async function sweepUntil(endpointId: string, attempts: number): Promise<DeliveryRow> {
  await t.app.webhooks.sweep()
  // Recorded: the attempt counted and its lease released (a claimed attempt holds one).
  return waitFor(async () => {
    const [row] = await deliveriesOf(endpointId)
    return row && row.attempts >= attempts && row.lease_until === null ? row : false
  }, SLOW)
}

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      // The test sweeps by hand; the schedule's real-time ticks stay out of the way.
      delivery: { sweepEverySeconds: 3_600, concurrency: 4 },
    },
    {
      label: 'webhooks_delivery',
      routes: (app) => {
        projectRoutes(app)
        app.events.on('webhook.endpoint.disabled', (event) => {
          disabledEvents.push(event.payload)
        })
      },
    },
  )
  alice = await signUp(t, 'alice@delivery.test')
  tenant = await createTenant(t, alice.token, 'Alpha')
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

describe('the transactional outbox (WH-07)', () => {
  it('a project created through request.db is delivered once its transaction committed, signed (WH-01)', async () => {
    const endpoint = await createEndpoint('/projects', ['project.*'])
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: { ...bearer(alice.token), 'x-tenant-id': tenant.id },
      payload: { name: 'Apollo' },
    })
    expect(response.statusCode).toBe(201)
    const { id, messageId } = response.json<{ id: string; messageId: string }>()
    const [delivered] = await waitFor(() => {
      const seen = receiver.at('/projects')
      return seen.length > 0 ? seen : false
    }, SLOW)
    const headers = delivered?.headers as Record<string, string>
    expect(headers['webhook-id']).toBe(messageId)
    const verified = new Webhook(endpoint.secret).verify(delivered?.body as string, headers)
    expect(verified).toEqual({
      type: 'project.created',
      timestamp: expect.any(String),
      data: { id, name: 'Apollo' },
    })
    const row = await waitFor(async () => {
      const [found] = await deliveriesOf(endpoint.id)
      return found?.status === 'delivered' ? found : false
    }, SLOW)
    expect(row.attempts).toBe(1)
    expect(await attemptsOf(row.id)).toEqual([
      { attempt: 1, status: 204, outcome: 'delivered', error: null },
    ])
  })

  it('a request that fails after sending rolls the event back with its data: nothing is sent', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      headers: { ...bearer(alice.token), 'x-tenant-id': tenant.id },
      payload: { name: 'Rolled back', fail: true },
    })
    expect(response.statusCode).toBe(409)
    const projects = await sql(t.db.owner.url, "SELECT id FROM projects WHERE name = 'Rolled back'")
    expect(projects).toEqual([])
    const messages = await sql(
      t.db.owner.url,
      "SELECT id FROM webhook_messages WHERE payload->>'name' = 'Rolled back'",
    )
    expect(messages).toEqual([])
    expect(await t.app.webhooks.sweep()).toEqual({ messages: 0, deliveries: 0 })
  })

  it('an event committed without a relay (as after a crash) is delivered by the sweeper', async () => {
    const endpoint = await createEndpoint('/swept', ['invoice.paid'])
    const messageId = await sendInvoice('inv_swept')
    const [stored] = await sql<{ relayed_at: Date | null }>(
      t.db.owner.url,
      'SELECT relayed_at FROM webhook_messages WHERE id = $1',
      [messageId],
    )
    expect(stored?.relayed_at).toBeNull()
    expect(receiver.at('/swept')).toHaveLength(0)
    const row = await sweepUntil(endpoint.id, 1)
    expect(row.message_id).toBe(messageId)
    expect(receiver.at('/swept')[0]?.headers['webhook-id']).toBe(messageId)
  })

  it('a caller transaction that rolls back leaves no outbox row', async () => {
    const prisma = t.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    await expect(
      prisma.$transaction(async (tx) => {
        await t.app.webhooks.send(tx, tenant.id, 'invoice.paid', {
          invoiceId: 'inv_gone',
          amount: 1,
        })
        throw new Error('business rule failed')
      }),
    ).rejects.toThrow('business rule failed')
    const rows = await sql(
      t.db.owner.url,
      "SELECT id FROM webhook_messages WHERE payload->>'invoiceId' = 'inv_gone'",
    )
    expect(rows).toEqual([])
  })

  it('refuses an undefined type and a payload its schema refuses, writing nothing', async () => {
    const prisma = t.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    const send = (type: string, payload: unknown) =>
      prisma.$transaction((tx) =>
        (
          t.app.webhooks.send as (
            db: SqlClient,
            tenantId: string,
            type: string,
            payload: unknown,
          ) => Promise<unknown>
        )(tx, tenant.id, type, payload),
      )
    await expect(send('nothing.here', {})).rejects.toMatchObject({
      code: 'ACME_WEBHOOKS_INVALID_EVENT',
    })
    await expect(send('invoice.paid', { invoiceId: 1 })).rejects.toMatchObject({
      code: 'ACME_WEBHOOKS_INVALID_EVENT',
    })
  })
})

describe('retries on the injected clock (WH-06)', () => {
  it('retries a 500 after about 5 s, with the same webhook-id, and stops at the first 2xx', async () => {
    const endpoint = await createEndpoint('/flaky', ['invoice.paid'])
    receiver.answer('/flaky', status(500))
    const messageId = await sendInvoice('inv_flaky')
    const first = await sweepUntil(endpoint.id, 1)
    expect(first.status).toBe('pending')
    const delay = (first.next_attempt_at?.getTime() ?? 0) - time.now().getTime()
    expect(delay).toBeGreaterThanOrEqual(4_500)
    expect(delay).toBeLessThanOrEqual(5_500)
    // Not due yet by the clock: nothing goes out.
    expect((await t.app.webhooks.sweep()).deliveries).toBe(0)
    receiver.answer('/flaky', status(200))
    time.advance(6_000)
    const second = await waitFor(async () => {
      await t.app.webhooks.sweep()
      const [row] = await deliveriesOf(endpoint.id)
      return row?.status === 'delivered' ? row : false
    }, SLOW)
    expect(second.attempts).toBe(2)
    const seen = receiver.at('/flaky')
    expect(seen.map((entry) => entry.headers['webhook-id'])).toEqual([messageId, messageId])
    expect((await attemptsOf(second.id)).map((row) => [row.status, row.outcome])).toEqual([
      [500, 'failed'],
      [200, 'delivered'],
    ])
  })

  it('follows the whole published schedule, then gives up', async () => {
    const endpoint = await createEndpoint('/down', ['invoice.paid'])
    receiver.answer('/down', status(500))
    await sendInvoice('inv_down')
    let row = await sweepUntil(endpoint.id, 1)
    for (const [index, seconds] of DEFAULT_RETRY_SCHEDULE_SECONDS.entries()) {
      const delay = (row.next_attempt_at?.getTime() ?? 0) - time.now().getTime()
      expect(delay, `retry ${index + 1}`).toBeGreaterThanOrEqual(seconds * 900)
      expect(delay, `retry ${index + 1}`).toBeLessThanOrEqual(seconds * 1100)
      time.advance(delay)
      row = await sweepUntil(endpoint.id, index + 2)
    }
    expect(row.status).toBe('failed')
    expect(row.attempts).toBe(8)
    expect(row.next_attempt_at).toBeNull()
    expect(receiver.at('/down')).toHaveLength(8)
  })

  it('honours Retry-After on 429 and 503', async () => {
    const endpoint = await createEndpoint('/busy', ['invoice.paid'])
    receiver.answer('/busy', status(429, { 'retry-after': '120' }))
    await sendInvoice('inv_busy')
    const first = await sweepUntil(endpoint.id, 1)
    expect((first.next_attempt_at?.getTime() ?? 0) - time.now().getTime()).toBe(120_000)
    const later = new Date(time.now().getTime() + 3_600_000)
    receiver.answer('/busy', status(503, { 'retry-after': later.toUTCString() }))
    time.advance(120_000)
    const second = await sweepUntil(endpoint.id, 2)
    const delay = (second.next_attempt_at?.getTime() ?? 0) - time.now().getTime()
    expect(Math.abs(delay - (3_600_000 - 120_000))).toBeLessThanOrEqual(1_000)
  })

  it('does not follow a redirect: a 302 is a failed attempt', async () => {
    const endpoint = await createEndpoint('/moved', ['invoice.paid'])
    receiver.answer('/moved', status(302, { location: receiver.url('/elsewhere') }))
    await sendInvoice('inv_moved')
    const row = await sweepUntil(endpoint.id, 1)
    expect(row.status).toBe('pending')
    expect(await attemptsOf(row.id)).toEqual([
      { attempt: 1, status: 302, outcome: 'failed', error: 'HTTP 302' },
    ])
    expect(receiver.at('/elsewhere')).toHaveLength(0)
  })

  it('a 410 disables the endpoint, with an event (WH-06)', async () => {
    const endpoint = await createEndpoint('/gone', ['invoice.paid'])
    receiver.answer('/gone', status(410))
    await sendInvoice('inv_gone_1')
    const row = await sweepUntil(endpoint.id, 1)
    expect(row.status).toBe('failed')
    const [stored] = await sql<{ enabled: boolean; disabled_reason: string }>(
      t.db.owner.url,
      'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1',
      [endpoint.id],
    )
    expect(stored).toEqual({ enabled: false, disabled_reason: 'gone' })
    expect(disabledEvents).toContainEqual({
      tenantId: tenant.id,
      endpointId: endpoint.id,
      reason: 'gone',
    })
    // A disabled endpoint gets no new deliveries.
    await sendInvoice('inv_gone_2')
    await t.app.webhooks.sweep()
    await waitFor(
      async () =>
        (await sql(t.db.owner.url, 'SELECT id FROM webhook_messages WHERE relayed_at IS NULL'))
          .length === 0,
      SLOW,
    )
    expect(await deliveriesOf(endpoint.id)).toHaveLength(1)
  })

  it('an endpoint failing for 5 days is disabled, with an event', async () => {
    const endpoint = await createEndpoint('/dying', ['invoice.paid'])
    receiver.answer('/dying', status(500))
    await sendInvoice('inv_dying_1')
    await sweepUntil(endpoint.id, 1)
    time.advance(5 * 86_400_000)
    await sendInvoice('inv_dying_2')
    await t.app.webhooks.sweep()
    const disabled = await waitFor(async () => {
      const [row] = await sql<{ enabled: boolean; disabled_reason: string | null }>(
        t.db.owner.url,
        'SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1',
        [endpoint.id],
      )
      return row?.enabled === false ? row : false
    }, SLOW)
    expect(disabled.disabled_reason).toBe('failing')
    expect(disabledEvents).toContainEqual({
      tenantId: tenant.id,
      endpointId: endpoint.id,
      reason: 'failing',
    })
    // Nothing is left to deliver: the first message's retry was due too (failed, or cancelled
    // when the second one's failure disabled the endpoint first). A delivery the relay created
    // while the endpoint was being disabled is cancelled by its own attempt, just after; one the
    // relay would create after it is not created at all.
    const statuses = await waitFor(async () => {
      const all = (await deliveriesOf(endpoint.id)).map((row) => row.status)
      return all.includes('pending') ? false : all
    }, SLOW)
    // The second message gets no delivery when the relay finds the endpoint already disabled.
    expect(statuses.length).toBeGreaterThanOrEqual(1)
    expect(statuses.length).toBeLessThanOrEqual(2)
    expect(statuses.every((value) => value === 'failed' || value === 'cancelled')).toBe(true)
    expect(statuses).toContain('failed')
  })
})

describe('the SSRF check at delivery (WH-05)', () => {
  it('refuses at connect time an endpoint whose address is not allowed, and records why', async () => {
    const endpoint = await createEndpoint('/ssrf', ['invoice.paid'])
    // As if the name had been rebound after registration: the stored URL now names ::1.
    await sql(t.db.owner.url, 'UPDATE webhook_endpoints SET url = $2 WHERE id = $1', [
      endpoint.id,
      receiver.url('/ssrf').replace('127.0.0.1', '[::1]'),
    ])
    await sendInvoice('inv_ssrf')
    const row = await sweepUntil(endpoint.id, 1)
    const [attempt] = await attemptsOf(row.id)
    expect(attempt).toMatchObject({
      status: null,
      outcome: 'refused',
      error: '::1 is a loopback address',
    })
    expect(receiver.at('/ssrf')).toHaveLength(0)
  })
})
