import { createPublicKey, verify } from 'node:crypto'
import { type ManualClock, manualClock, waitFor } from '@acme/test-kit'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SqlClient, verifyWebhook } from '../src/index.js'
import { SecretVault } from '../src/services/secrets.js'
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

const encryptionKey = newEncryptionKey()
let t: WebhooksTestApp
let time: ManualClock
let receiver: Receiver
let alice: { userId: string; token: string }
let viewer: { userId: string; token: string }
let bob: { userId: string; token: string }
let tenantA: { id: string }
let tenantB: { id: string }

const SLOW = { timeoutMs: 30_000, intervalMs: 25 }
const keyUrl = (tenant: { id: string }) => `/tenants/${tenant.id}/webhooks/signing-key`
const call = (method: 'GET' | 'POST' | 'DELETE', token: string, tenant = tenantA) =>
  t.app.inject({ method, url: keyUrl(tenant), headers: bearer(token) })

beforeAll(async () => {
  time = manualClock(new Date())
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      encryptionKey,
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600, concurrency: 4 },
    },
    { label: 'webhooks_signing_key', routes: projectRoutes },
  )
  alice = await signUp(t, 'alice@signing-key.test')
  viewer = await signUp(t, 'viewer@signing-key.test')
  bob = await signUp(t, 'bob@signing-key.test')
  tenantA = await createTenant(t, alice.token, 'Alpha')
  tenantB = await createTenant(t, bob.token, 'Beta')
  await t.app.tenancy.tenants.addMember(tenantA.id, viewer.userId, ['viewer'])
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
})

async function sendInvoice(invoiceId: string): Promise<string> {
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>, options?: { maxWait?: number }): Promise<R>
  }
  const { id } = await prisma.$transaction(
    (tx) => t.app.webhooks.send(tx, tenantA.id, 'invoice.paid', { invoiceId, amount: 7 }),
    { maxWait: 20_000 },
  )
  return id
}

describe('the tenant’s v1a signing key', () => {
  it('is created once: 201 with a whpk_ key, then 200 with the same key', async () => {
    const first = await call('POST', alice.token)
    expect(first.statusCode).toBe(201)
    const key = first.json<{ publicKey: string; createdAt: string }>()
    expect(key.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/)
    expect(Object.keys(key).sort()).toEqual(['createdAt', 'publicKey'])
    const again = await call('POST', alice.token)
    expect(again.statusCode).toBe(200)
    expect(again.json()).toEqual(key)
    const read = await call('GET', viewer.token)
    expect(read.statusCode).toBe(403)
    expect((await call('GET', alice.token)).json()).toEqual(key)
  })

  it('stores the private key encrypted and bound to its tenant', async () => {
    const [row] = await sql<{ private_key: string; public_key: string }>(
      t.db.owner.url,
      'SELECT private_key, public_key FROM webhook_signing_keys WHERE tenant_id = $1',
      [tenantA.id],
    )
    expect(row?.private_key).not.toContain('whsk_')
    const vault = new SecretVault(encryptionKey)
    expect(vault.openSigningKey(row?.private_key, tenantA.id)).not.toBeNull()
    expect(() => vault.openSigningKey(row?.private_key, tenantB.id)).toThrow()
  })

  it('is not another tenant’s: B has none, and A’s route refuses B’s owner', async () => {
    const none = await call('GET', bob.token, tenantB)
    expect(none.statusCode).toBe(404)
    expect(none.headers['content-type']).toContain('application/problem+json')
    expect(none.json()).toMatchObject({ code: 'ACME_WEBHOOKS_SIGNING_KEY_NOT_FOUND' })
    const foreign = await call('GET', bob.token, tenantA)
    expect(foreign.statusCode).toBeGreaterThanOrEqual(403)
    expect(foreign.body).not.toContain('whpk_')
    // Creating B's own key leaves A's alone.
    const created = await call('POST', bob.token, tenantB)
    expect(created.statusCode).toBe(201)
    expect(created.json().publicKey).not.toBe((await call('GET', alice.token)).json().publicKey)
  })

  it('signs each delivery with v1 and v1a; the v1a verifies with the published key alone', async () => {
    const { publicKey } = (await call('GET', alice.token)).json<{ publicKey: string }>()
    const endpoint = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenantA.id}/webhooks/endpoints`,
      headers: bearer(alice.token),
      payload: { url: receiver.url('/signed'), eventTypes: ['invoice.paid'] },
    })
    const { secret } = endpoint.json<{ secret: string }>()
    const messageId = await sendInvoice('inv_v1a')
    await t.app.webhooks.sweep()
    const [delivered] = await waitFor(() => {
      const seen = receiver.at('/signed')
      return seen.length > 0 ? seen : false
    }, SLOW)
    const headers = delivered?.headers as Record<string, string>
    const body = delivered?.body as string
    expect(headers['webhook-id']).toBe(messageId)
    const entries = (headers['webhook-signature'] as string).split(' ')
    expect(entries.map((entry) => entry.split(',')[0])).toEqual(['v1', 'v1a'])
    // Independently: Node's Ed25519 verify, the key rebuilt from the whpk_ text.
    const key = createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(publicKey.slice('whpk_'.length), 'base64').toString('base64url'),
      },
      format: 'jwk',
    })
    const signed = `${messageId}.${headers['webhook-timestamp']}.${body}`
    const signature = Buffer.from((entries[1] as string).slice('v1a,'.length), 'base64')
    expect(verify(null, Buffer.from(signed), key, signature)).toBe(true)
    expect(verifyWebhook({ body, headers, publicKey, now: time.now }).id).toBe(messageId)
    // The v1 entry still verifies with the reference library.
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: 'invoice.paid' })
  })

  it('deleted: 204, then 404, and deliveries carry v1 only', async () => {
    expect((await call('DELETE', alice.token)).statusCode).toBe(204)
    const gone = await call('GET', alice.token)
    expect(gone.statusCode).toBe(404)
    expect(gone.json()).toMatchObject({ code: 'ACME_WEBHOOKS_SIGNING_KEY_NOT_FOUND' })
    expect((await call('DELETE', alice.token)).json()).toMatchObject({
      code: 'ACME_WEBHOOKS_SIGNING_KEY_NOT_FOUND',
    })
    const before = receiver.at('/signed').length
    await sendInvoice('inv_v1_only')
    await t.app.webhooks.sweep()
    const seen = await waitFor(() => {
      const all = receiver.at('/signed')
      return all.length > before ? all : false
    }, SLOW)
    const signature = seen[seen.length - 1]?.headers['webhook-signature'] as string
    expect(signature.split(' ').map((entry) => entry.split(',')[0])).toEqual(['v1'])
  })
})
