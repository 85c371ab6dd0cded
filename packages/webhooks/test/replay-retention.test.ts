import { randomUUID } from 'node:crypto'
import { type ManualClock, manualClock } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenant,
  createWebhooksApp,
  signUp,
  sql,
  type WebhooksTestApp,
} from './support/app.js'

let t: WebhooksTestApp
let time: ManualClock
const DAY = 86_400_000

beforeAll(async () => {
  time = manualClock(new Date())
  t = await createWebhooksApp(
    {
      clock: time.now,
      delivery: { sweepEverySeconds: 3_600 },
      retention: { retentionDays: 1, batchSize: 1 },
    },
    { label: 'webhooks_replay_retention', redis: false },
  )
})

afterAll(async () => {
  await t?.close()
})

/** A replay of `endpointId`, written as the owner, last changed `ageDays` ago by the clock. */
async function replay(tenantId: string, endpointId: string, state: string, ageDays: number) {
  const id = randomUUID()
  const at = new Date(time.now().getTime() - ageDays * DAY)
  await sql(
    t.db.owner.url,
    `INSERT INTO webhook_replays (id, tenant_id, endpoint_id, since, state, total, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 1, $4, $4)`,
    [id, tenantId, endpointId, at, state],
  )
  return id
}

describe('replay retention', () => {
  it('prunes finished replays past the retention, keeps running, recent and still pending ones', async () => {
    const user = await signUp(t, 'ann@replay-retention.test')
    const tenant = await createTenant(t, user.token, 'Replays')
    const [endpoint] = await sql<{ id: string }>(
      t.db.owner.url,
      `INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, 'https://receiver.example/hook', '{}', 'sealed', now(), now())
       RETURNING id`,
      [tenant.id],
    )
    const endpointId = endpoint?.id as string

    const oldMarked = await replay(tenant.id, endpointId, 'marked', 3)
    const oldFailed = await replay(tenant.id, endpointId, 'failed', 3)
    const oldRunning = await replay(tenant.id, endpointId, 'running', 3)
    const recentMarked = await replay(tenant.id, endpointId, 'marked', 0)
    const stillSending = await replay(tenant.id, endpointId, 'marked', 3)
    // A delivery the last one made due is still pending: its progress is still counted.
    await sql(
      t.db.owner.url,
      `WITH m AS (
         INSERT INTO webhook_messages (id, tenant_id, event_type, payload, created_at, relayed_at)
         VALUES ('msg_replay_retention', $1, 'invoice.paid', '{}', $3, $3) RETURNING id
       )
       INSERT INTO webhook_deliveries (id, tenant_id, message_id, endpoint_id, status, attempts,
         next_attempt_at, created_at, updated_at, replay_id)
       SELECT gen_random_uuid(), $1, m.id, $2, 'pending', 1, $3, $3, $3, $4 FROM m`,
      [tenant.id, endpointId, time.now(), stillSending],
    )

    const report = await t.app.webhooks.purge()
    expect(report).toEqual({ tenants: 1, deleted: 0, replays: 2 })
    const left = await sql<{ id: string }>(t.db.owner.url, 'SELECT id FROM webhook_replays')
    expect(left.map((row) => row.id).sort()).toEqual(
      [oldRunning, recentMarked, stillSending].sort(),
    )
    expect(left.map((row) => row.id)).not.toContain(oldMarked)
    expect(left.map((row) => row.id)).not.toContain(oldFailed)
    // Its progress link is intact.
    const [pending] = await sql<{ replay_id: string }>(
      t.db.owner.url,
      `SELECT replay_id FROM webhook_deliveries WHERE message_id = 'msg_replay_retention'`,
    )
    expect(pending?.replay_id).toBe(stillSending)
  })
})
