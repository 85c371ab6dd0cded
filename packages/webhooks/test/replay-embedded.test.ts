import { manualClock, waitFor } from '@acme/test-kit'
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

/** The replay job on core's in-process runner (no Redis: development and embedded mode). */

const SLOW = { timeoutMs: 30_000, intervalMs: 50 }
const time = manualClock(new Date())
let t: WebhooksTestApp
let receiver: Receiver

beforeAll(async () => {
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      retryScheduleSeconds: [],
      delivery: { sweepEverySeconds: 3_600 },
    },
    { label: 'webhooks_replay_embedded', redis: false, routes: projectRoutes },
  )
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

describe('replay without Redis', () => {
  it('runs on the in-process runner and its progress reaches done', async () => {
    const alice = await signUp(t, 'alice@replay-embedded.test')
    const tenant = await createTenant(t, alice.token, 'Alpha')
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/webhooks/endpoints`,
      headers: bearer(alice.token),
      payload: { url: receiver.url('/embedded'), eventTypes: ['invoice.paid'] },
    })
    const endpointId = created.json<{ id: string }>().id
    receiver.answer('/embedded', status(500))
    const since = time.now().toISOString()
    const prisma = t.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    const { id: messageId } = await prisma.$transaction((tx) =>
      t.app.webhooks.send(tx, tenant.id, 'invoice.paid', { invoiceId: 'inv_e', amount: 1 }),
    )
    await t.app.webhooks.sweep()
    // The failure recorded (its lease released): then the replay has it to do.
    await waitFor(async () => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/tenants/${tenant.id}/webhooks/endpoints/${endpointId}/deliveries?status=failed`,
        headers: bearer(alice.token),
      })
      return response.json<{ items: unknown[] }>().items.length === 1
    }, SLOW)
    receiver.answer('/embedded', status(204))
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/webhooks/endpoints/${endpointId}/replay`,
      headers: bearer(alice.token),
      payload: { since },
    })
    expect(response.statusCode).toBe(202)
    const started = response.json<{ id: string }>()
    const progress = await waitFor(async () => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/tenants/${tenant.id}/webhooks/replays/${started.id}`,
        headers: bearer(alice.token),
      })
      const body = response.json<{ state: string; total: number; delivered: number }>()
      return body.state === 'done' && body.total === 1 ? body : false
    }, SLOW)
    expect(progress).toMatchObject({ total: 1, done: 1, delivered: 1 })
    expect(receiver.at('/embedded').map((entry) => entry.headers['webhook-id'])).toEqual([
      messageId,
      messageId,
    ])
  })
})
