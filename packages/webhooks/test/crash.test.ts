import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { manualClock, waitFor } from '@acme/test-kit'
import { TEST_REDIS_URL, uniquePrefix } from '@acme/test-support'
import { Redis } from 'ioredis'
import { build } from 'tsup'
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

/**
 * Real processes killed with SIGKILL: WH-07(c), an app dying between its commit and the relay,
 * and Q-01, a worker dying while the receiver holds its request.
 */

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const childDir = `${packageDir}node_modules/.cache/webhooks-crash-child`
const encryptionKey = newEncryptionKey()
// The crashing processes and the instances started after them share these queues; the test's
// own app does not, so none of its workers can take their jobs.
const crashPrefix = uniquePrefix('webhooks_crash_queues')
let t: WebhooksTestApp
let receiver: Receiver
let tenant: { id: string }
const children: ChildProcess[] = []
const others: WebhooksTestApp[] = []

/** Starts the child app; resolves its stdout lines as they come, parsed. */
function startChild(env: Record<string, string>) {
  const child = spawn(process.execPath, [`${childDir}/crash-child.js`], {
    env: {
      ...process.env,
      DATABASE_URL: t.db.app.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: crashPrefix,
      ENCRYPTION_KEY: encryptionKey,
      TENANT_ID: tenant.id,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>)
  })
  return { child, lines }
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  const [code, signal] = await exited
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' })
}

beforeAll(async () => {
  // The child runs as plain Node: bundle it with its TypeScript sources, packages left external.
  await build({
    entry: { 'crash-child': 'test/support/crash-child.ts' },
    format: ['esm'],
    outDir: childDir,
    target: 'node20',
    silent: true,
    clean: true,
    external: [/^@acme\//, /^@prisma\//, 'fastify', 'zod', 'pg', 'ioredis'],
    config: false,
  })
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      encryptionKey,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      // This instance does not sweep on its own: the instances started after a crash do.
      delivery: { sweepEverySeconds: 3_600, worker: false },
    },
    { label: 'webhooks_crash', routes: projectRoutes },
  )
  const alice = await signUp(t, 'alice@crash.test')
  tenant = await createTenant(t, alice.token, 'Alpha')
  for (const path of ['/after-commit', '/held']) {
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/webhooks/endpoints`,
      headers: bearer(alice.token),
      payload: { url: receiver.url(path), eventTypes: ['invoice.paid'] },
    })
    expect(response.statusCode).toBe(201)
  }
}, 180_000)

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const other of others) await other.close()
  await t?.close()
  await receiver?.close()
  const redis = new Redis(TEST_REDIS_URL)
  const keys = await redis.keys(`${crashPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

/** A second instance of the deployment: same database and queues, its own clock. */
async function restartedInstance(
  clock?: () => Date,
  perTenantConcurrency?: number,
): Promise<WebhooksTestApp> {
  const instance = await createWebhooksApp(
    {
      encryptionKey,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 5, ...(perTenantConcurrency ? { perTenantConcurrency } : {}) },
      ...(clock ? { clock } : {}),
    },
    {
      label: 'webhooks_crash_b',
      database: t.db,
      redisPrefix: crashPrefix,
      routes: projectRoutes,
    },
  )
  others.push(instance)
  return instance
}

describe('crashes', () => {
  it('WH-07(c): killed after commit, before the relay: delivered within 10 s of the restart, once', async () => {
    receiver.answer('/after-commit', (_received, response) => response.writeHead(204).end())
    const { child, lines } = startChild({ MODE: 'commit-only', INVOICE_ID: 'inv_crash' })
    const committed = await waitFor(() => lines.find((line) => 'committed' in line) ?? false, {
      timeoutMs: 120_000,
    })
    await kill(child)
    expect(receiver.at('/after-commit')).toHaveLength(0)

    const instance = await restartedInstance()
    const restarted = performance.now()
    await waitFor(() => receiver.at('/after-commit').length > 0, { timeoutMs: 60_000 })
    expect(performance.now() - restarted).toBeLessThan(10_000)
    // Every delivery of the message settled: nothing is left that could send it again.
    await waitFor(
      async () => {
        const rows = await sql<{ status: string }>(
          t.db.owner.url,
          'SELECT status FROM webhook_deliveries WHERE message_id = $1',
          [committed.committed],
        )
        return rows.length === 2 && rows.every((row) => row.status === 'delivered')
      },
      { timeoutMs: 60_000 },
    )
    const ids = receiver.at('/after-commit').map((entry) => entry.headers['webhook-id'])
    const heldIds = receiver.at('/held').map((entry) => entry.headers['webhook-id'])
    expect(heldIds.filter((id) => id === committed.committed)).toHaveLength(1)
    expect(ids).toEqual([committed.committed])
    // Gone before the next test: its workers must not take that test's jobs.
    others.splice(others.indexOf(instance), 1)
    await instance.close()
  })

  it('Q-01: a worker killed mid-delivery: another worker delivers it, with the same webhook-id', async () => {
    let held = 0
    receiver.answer('/held', (_received, response) => {
      held++
      // The first attempt is never answered: its worker dies waiting.
      if (held > 1) response.writeHead(200).end('ok')
    })
    const before = receiver.at('/held').length
    const { child, lines } = startChild({ MODE: 'relay', INVOICE_ID: 'inv_held' })
    const committed = await waitFor(() => lines.find((line) => 'committed' in line) ?? false, {
      timeoutMs: 120_000,
    })
    await waitFor(() => receiver.at('/held').length > before, { timeoutMs: 60_000 })
    await kill(child)

    // The dead worker's lease (timeout + 60 s) has run out by the survivor's clock.
    const later = manualClock(new Date(Date.now() + 5 * 60_000))
    const survivor = await restartedInstance(later.now)
    await survivor.app.webhooks.sweep()
    const seen = await waitFor(
      () => {
        const entries = receiver.at('/held').slice(before)
        return entries.length >= 2 ? entries : false
      },
      { timeoutMs: 60_000 },
    )
    expect(seen.map((entry) => entry.headers['webhook-id'])).toEqual([
      committed.committed,
      committed.committed,
    ])
    // The dead worker's claim counted attempt 1 and recorded nothing; the survivor's is attempt 2.
    const [delivery] = await sql<{ id: string; status: string; attempts: number }>(
      t.db.owner.url,
      `SELECT d.id, d.status, d.attempts FROM webhook_deliveries d
       JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.message_id = $1 AND e.url LIKE '%/held'`,
      [committed.committed],
    )
    const row = await waitFor(
      async () => {
        const [current] = await sql<{ status: string; attempts: number }>(
          t.db.owner.url,
          'SELECT status, attempts FROM webhook_deliveries WHERE id = $1',
          [delivery?.id],
        )
        return current?.status === 'delivered' ? current : false
      },
      { timeoutMs: 60_000 },
    )
    expect(row.attempts).toBe(2)
    const attempts = await sql(
      t.db.owner.url,
      'SELECT attempt, status, outcome FROM webhook_attempts WHERE delivery_id = $1',
      [delivery?.id],
    )
    expect(attempts).toEqual([{ attempt: 2, status: 200, outcome: 'delivered' }])
  })

  it("a worker killed holding its tenant's last slot: the slot comes back when its lease runs out", async () => {
    // Earlier tests' instances (one with its clock 5 minutes ahead) must not take these jobs.
    for (const other of others.splice(0)) await other.close()
    const bob = await signUp(t, 'bob@crash.test')
    const beta = await createTenant(t, bob.token, 'Beta')
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${beta.id}/webhooks/endpoints`,
      headers: bearer(bob.token),
      payload: { url: receiver.url('/slot'), eventTypes: ['invoice.paid'] },
    })
    expect(created.statusCode).toBe(201)
    let answering = false
    receiver.answer('/slot', (_received, response) => {
      // Unanswered until the test says so: the first attempt's worker dies waiting.
      if (answering) response.writeHead(204).end()
    })
    // The tenant may have one attempt in flight; the dying process holds it.
    const { child, lines } = startChild({
      MODE: 'relay',
      INVOICE_ID: 'inv_slot',
      TENANT_ID: beta.id,
      PER_TENANT_CONCURRENCY: '1',
    })
    const first = await waitFor(() => lines.find((line) => 'committed' in line) ?? false, {
      timeoutMs: 120_000,
    })
    await waitFor(() => receiver.at('/slot').length === 1, { timeoutMs: 60_000 })
    await kill(child)
    answering = true

    // Another message of the tenant, sent and relayed by a surviving instance whose clock is
    // still within the dead worker's lease: its worker finds the tenant's one slot taken.
    const time = manualClock(new Date())
    const survivor = await restartedInstance(time.now, 1)
    const prisma = survivor.app.prisma as unknown as {
      $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
    }
    const second = await prisma.$transaction((tx) =>
      survivor.app.webhooks.send(tx, beta.id, 'invoice.paid', {
        invoiceId: 'inv_slot_2',
        amount: 2,
      }),
    )
    await survivor.app.webhooks.sweep()
    await waitFor(
      () =>
        survivor.logs.some(
          (line) =>
            line.tenantId === beta.id &&
            typeof line.msg === 'string' &&
            line.msg.startsWith('webhooks: the tenant has every delivery slot in use'),
        ),
      { timeoutMs: 60_000 },
    )
    expect(receiver.at('/slot')).toHaveLength(1)

    // Past the lease (timeout + 60 s) by the survivor's clock: the slot is free again, and both
    // messages go out, the first with the webhook-id its dead worker had sent.
    time.advance(5 * 60_000)
    await survivor.app.webhooks.sweep()
    await waitFor(
      async () => {
        const rows = await sql<{ status: string }>(
          t.db.owner.url,
          'SELECT status FROM webhook_deliveries WHERE tenant_id = $1',
          [beta.id],
        )
        return rows.length === 2 && rows.every((row) => row.status === 'delivered')
      },
      { timeoutMs: 60_000 },
    )
    expect(
      receiver
        .at('/slot')
        .map((entry) => entry.headers['webhook-id'])
        .sort(),
    ).toEqual([first.committed, first.committed, second.id].sort())
  })
})
