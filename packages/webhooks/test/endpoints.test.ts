import { hostname } from 'node:os'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
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

const encryptionKey = newEncryptionKey()
let t: WebhooksTestApp
let alice: { userId: string; token: string }
let viewer: { userId: string; token: string }
let bob: { userId: string; token: string }
let tenantA: { id: string }
let tenantB: { id: string }

const base = (tenant: { id: string }) => `/tenants/${tenant.id}/webhooks/endpoints`
const create = (token: string, payload: Record<string, unknown>, tenant = tenantA) =>
  t.app.inject({ method: 'POST', url: base(tenant), headers: bearer(token), payload })

interface Endpoint {
  id: string
  url: string
  eventTypes: string[]
  enabled: boolean
  disabledReason: string | null
  headers: Record<string, string>
  secret?: string
}

beforeAll(async () => {
  t = await createWebhooksApp(
    { encryptionKey },
    {
      label: 'webhooks_endpoints',
      routes: (app) => {
        app.webhooks.defineEventType({
          name: 'invoice.paid',
          description: 'An invoice was paid.',
          schema: z.object({ invoiceId: z.string(), amount: z.number().int() }),
        })
        app.webhooks.defineEventType({
          name: 'invoice.voided',
          description: 'An invoice was voided.',
          schema: z.object({ invoiceId: z.string() }),
        })
        app.webhooks.defineEventType({
          name: 'project.created',
          description: 'A project was created.',
          schema: z.object({ id: z.uuid(), name: z.string() }),
        })
      },
    },
  )
  alice = await signUp(t, 'alice@webhooks.test')
  viewer = await signUp(t, 'viewer@webhooks.test')
  bob = await signUp(t, 'bob@webhooks.test')
  tenantA = await createTenant(t, alice.token, 'Alpha')
  tenantB = await createTenant(t, bob.token, 'Beta')
  await t.app.tenancy.tenants.addMember(tenantA.id, viewer.userId, ['viewer'])
})

afterAll(async () => {
  await t?.close()
})

describe('creating an endpoint', () => {
  it('answers 201 with the secret once, stores it encrypted, and never lists it (WH-02)', async () => {
    const response = await create(alice.token, {
      url: 'https://hooks.example.com/acme',
      description: 'Billing',
      eventTypes: ['invoice.*'],
      headers: { 'x-team': 'billing' },
    })
    expect(response.statusCode).toBe(201)
    const created = response.json<Endpoint>()
    expect(created).toMatchObject({
      url: 'https://hooks.example.com/acme',
      eventTypes: ['invoice.*'],
      enabled: true,
      disabledReason: null,
      headers: { 'x-team': 'billing' },
    })
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const secret = created.secret as string
    // A secret the reference implementation takes.
    expect(() => new Webhook(secret)).not.toThrow()

    const [row] = await sql<{ secret: string }>(
      t.db.owner.url,
      'SELECT secret FROM webhook_endpoints WHERE id = $1',
      [created.id],
    )
    expect(row?.secret).toMatch(/^v1\./)
    expect(row?.secret).not.toContain(secret.slice(6))
    expect(new SecretVault(encryptionKey).open(row?.secret as string, created.id)).toBe(secret)
    // Bound to its row: the ciphertext does not open as another endpoint's.
    expect(() =>
      new SecretVault(encryptionKey).open(
        row?.secret as string,
        '00000000-0000-4000-8000-000000000000',
      ),
    ).toThrow()

    const listed = await t.app.inject({
      method: 'GET',
      url: base(tenantA),
      headers: bearer(alice.token),
    })
    expect(listed.statusCode).toBe(200)
    expect(listed.body).not.toContain('secret')
    expect(listed.body).not.toContain(secret.slice(6))
    const one = await t.app.inject({
      method: 'GET',
      url: `${base(tenantA)}/${created.id}`,
      headers: bearer(alice.token),
    })
    expect(one.statusCode).toBe(200)
    expect(one.json()).not.toHaveProperty('secret')
  })

  it('gives every endpoint its own secret', async () => {
    const secrets = new Set<string>()
    for (let index = 0; index < 3; index++) {
      const response = await create(alice.token, { url: `https://hooks.example.com/${index}` })
      secrets.add(response.json<Endpoint>().secret as string)
    }
    expect(secrets.size).toBe(3)
  })

  it('refuses event-type filters that match nothing in the catalog', async () => {
    const response = await create(alice.token, {
      url: 'https://hooks.example.com/x',
      eventTypes: ['invoice.paid', 'nothing.here', 'INVOICE.*'],
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'ACME_WEBHOOKS_UNKNOWN_EVENT_TYPE' })
    expect(response.json<{ detail: string }>().detail).toContain('"nothing.here"')
  })

  it('refuses headers that would replace the signature or the framing', async () => {
    for (const name of ['webhook-signature', 'Host', 'content-length', 'transfer-encoding']) {
      const response = await create(alice.token, {
        url: 'https://hooks.example.com/x',
        headers: { [name]: 'x' },
      })
      expect(response.statusCode, name).toBe(400)
      expect(response.json()).toMatchObject({ code: 'ACME_CORE_VALIDATION_FAILED' })
    }
    const injected = await create(alice.token, {
      url: 'https://hooks.example.com/x',
      headers: { 'x-a': 'one\r\nx-b: two' },
    })
    expect(injected.statusCode).toBe(400)
  })
})

describe('the SSRF check at registration (WH-04)', () => {
  const refused = [
    'http://127.0.0.1/hook',
    'http://localhost:8080/hook',
    'http://sub.localhost/hook',
    'http://2130706433/hook', // 127.0.0.1 in decimal
    'http://0x7f000001/hook', // in hex
    'http://0177.0.0.1/hook', // in octal
    'http://127.1/hook', // shortened
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook', // IPv4-mapped
    'http://[::ffff:a9fe:a9fe]/hook', // 169.254.169.254, mapped, in hex
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://10.1.2.3/hook',
    'http://172.16.0.1/hook',
    'http://192.168.1.1/hook',
    'http://100.64.0.1/hook', // CGNAT
    'http://0.0.0.0/hook',
    'http://[fd00:ec2::254]/hook',
    'http://[fe80::1]/hook',
    'http://[64:ff9b::7f00:1]/hook', // NAT64 of 127.0.0.1
    'ftp://hooks.example.com/hook',
    'file:///etc/passwd',
    'gopher://hooks.example.com/',
    'https://user:pass@hooks.example.com/hook',
    'not a url',
  ]

  it.each(refused)('refuses %s with a 400 that says why', async (url) => {
    const response = await create(alice.token, { url })
    expect(response.statusCode).toBe(400)
    const problem = response.json<{ code: string; detail: string }>()
    expect(problem.code).toBe('ACME_WEBHOOKS_URL_REFUSED')
    expect(problem.detail).toMatch(/^Webhook endpoints must be public http\(s\) URLs: .+\.$/)
  })

  it('refuses a single-label name (this machine’s own, say), which only a local resolver answers', async () => {
    const response = await create(alice.token, { url: `http://${hostname()}:8080/hook` })
    expect(response.statusCode).toBe(400)
    expect(response.json<{ detail: string }>().detail).toContain('not a fully qualified name')
  })

  it('refuses a private URL on update too, and changes nothing', async () => {
    const created = (
      await create(alice.token, { url: 'https://hooks.example.com/u' })
    ).json<Endpoint>()
    const response = await t.app.inject({
      method: 'PATCH',
      url: `${base(tenantA)}/${created.id}`,
      headers: bearer(alice.token),
      payload: { url: 'http://[::ffff:10.0.0.1]/' },
    })
    expect(response.statusCode).toBe(400)
    const [row] = await sql<{ url: string }>(
      t.db.owner.url,
      'SELECT url FROM webhook_endpoints WHERE id = $1',
      [created.id],
    )
    expect(row?.url).toBe('https://hooks.example.com/u')
  })

  it('stores nothing for a refused URL', async () => {
    const before = await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM webhook_endpoints',
    )
    await create(alice.token, { url: 'http://169.254.169.254/' })
    const after = await sql<{ n: number }>(
      t.db.owner.url,
      'SELECT count(*)::int AS n FROM webhook_endpoints',
    )
    expect(after[0]?.n).toBe(before[0]?.n)
  })
})

describe('permissions and isolation', () => {
  it('a viewer may not read or manage endpoints (webhooks:read and :manage are for admins)', async () => {
    const listed = await t.app.inject({
      method: 'GET',
      url: base(tenantA),
      headers: bearer(viewer.token),
    })
    expect(listed.statusCode).toBe(403)
    const created = await create(viewer.token, { url: 'https://hooks.example.com/v' })
    expect(created.statusCode).toBe(403)
  })

  it('another tenant’s endpoint is a 404 through its own tenant, and our tenant is a 404 to them', async () => {
    const mine = (
      await create(alice.token, { url: 'https://hooks.example.com/mine' })
    ).json<Endpoint>()
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const response = await t.app.inject({
        method,
        url: `${base(tenantB)}/${mine.id}`,
        headers: bearer(bob.token),
        ...(method === 'PATCH' ? { payload: { description: 'taken' } } : {}),
      })
      expect(response.statusCode, method).toBe(404)
      expect(response.json()).toMatchObject({ code: 'ACME_WEBHOOKS_ENDPOINT_NOT_FOUND' })
    }
    const rotate = await t.app.inject({
      method: 'POST',
      url: `${base(tenantB)}/${mine.id}/rotate-secret`,
      headers: bearer(bob.token),
    })
    expect(rotate.statusCode).toBe(404)
    const intoA = await t.app.inject({
      method: 'GET',
      url: base(tenantA),
      headers: bearer(bob.token),
    })
    // Tenancy does not confirm that a tenant exists to a non-member.
    expect(intoA.statusCode).toBe(404)
    const [row] = await sql<{ description: string }>(
      t.db.owner.url,
      'SELECT description FROM webhook_endpoints WHERE id = $1',
      [mine.id],
    )
    expect(row?.description).toBe('')
  })

  it('row-level security hides endpoints from the app role without a tenant', async () => {
    const rows = await sql(t.db.app.url, 'SELECT id FROM webhook_endpoints')
    expect(rows).toEqual([])
    const owned = await sql(t.db.owner.url, 'SELECT id FROM webhook_endpoints')
    expect(owned.length).toBeGreaterThan(0)
  })
})

describe('changing, rotating and deleting', () => {
  it('disables and re-enables, with the reason', async () => {
    const created = (
      await create(alice.token, { url: 'https://hooks.example.com/d' })
    ).json<Endpoint>()
    const url = `${base(tenantA)}/${created.id}`
    const off = await t.app.inject({
      method: 'PATCH',
      url,
      headers: bearer(alice.token),
      payload: { enabled: false, eventTypes: ['project.created'] },
    })
    expect(off.statusCode).toBe(200)
    expect(off.json()).toMatchObject({
      enabled: false,
      disabledReason: 'manual',
      eventTypes: ['project.created'],
    })
    const on = await t.app.inject({
      method: 'PATCH',
      url,
      headers: bearer(alice.token),
      payload: { enabled: true },
    })
    expect(on.json()).toMatchObject({ enabled: true, disabledReason: null })
  })

  it('rotation returns a new secret once; both sign during the overlap (WH-02)', async () => {
    const created = (
      await create(alice.token, { url: 'https://hooks.example.com/r' })
    ).json<Endpoint>()
    const response = await t.app.inject({
      method: 'POST',
      url: `${base(tenantA)}/${created.id}/rotate-secret`,
      headers: bearer(alice.token),
    })
    expect(response.statusCode).toBe(200)
    const rotated = response.json<{ secret: string; previousSecretUntil: string }>()
    expect(rotated.secret).not.toBe(created.secret)
    const hours = (Date.parse(rotated.previousSecretUntil) - Date.now()) / 3_600_000
    expect(hours).toBeGreaterThan(23.9)
    expect(hours).toBeLessThanOrEqual(24)
    const [row] = await sql<{ secret: string; previous_secret: string }>(
      t.db.owner.url,
      'SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1',
      [created.id],
    )
    const vault = new SecretVault(encryptionKey)
    expect(vault.open(row?.secret as string, created.id)).toBe(rotated.secret)
    expect(vault.open(row?.previous_secret as string, created.id)).toBe(created.secret)
  })

  it('deletes, then answers 404', async () => {
    const created = (
      await create(alice.token, { url: 'https://hooks.example.com/x' })
    ).json<Endpoint>()
    const url = `${base(tenantA)}/${created.id}`
    const deleted = await t.app.inject({ method: 'DELETE', url, headers: bearer(alice.token) })
    expect(deleted.statusCode).toBe(204)
    const again = await t.app.inject({ method: 'DELETE', url, headers: bearer(alice.token) })
    expect(again.statusCode).toBe(404)
  })

  it('tells the event bus of each change, with header names only and never a secret', async () => {
    const heard: Array<{ name: string; payload: unknown }> = []
    const names = [
      'webhook.endpoint.created',
      'webhook.endpoint.updated',
      'webhook.secret.rotated',
      'webhook.endpoint.deleted',
    ] as const
    const offs = names.map((name) =>
      t.app.events.on(name, (event) => {
        heard.push({ name: event.name, payload: event.payload })
      }),
    )
    try {
      const created = (
        await create(alice.token, {
          url: 'https://hooks.example.com/e',
          headers: { authorization: 'Bearer receiver-credential' },
        })
      ).json<Endpoint>()
      const url = `${base(tenantA)}/${created.id}`
      const denied = await t.app.inject({
        method: 'PATCH',
        url: `${base(tenantB)}/${created.id}`,
        headers: bearer(bob.token),
        payload: { description: 'taken' },
      })
      expect(denied.statusCode).toBe(404)
      await t.app.inject({
        method: 'PATCH',
        url,
        headers: bearer(alice.token),
        payload: { eventTypes: ['invoice.*'] },
      })
      const rotated = await t.app.inject({
        method: 'POST',
        url: `${url}/rotate-secret`,
        headers: bearer(alice.token),
      })
      await t.app.inject({ method: 'DELETE', url, headers: bearer(alice.token) })

      expect(heard.map((event) => event.name)).toEqual(names)
      const [made, changed, rotation, gone] = heard.map((event) => event.payload)
      expect(made).toMatchObject({
        tenantId: tenantA.id,
        endpointId: created.id,
        after: { url: 'https://hooks.example.com/e', headers: ['authorization'] },
      })
      expect(changed).toMatchObject({
        before: { eventTypes: [] },
        after: { eventTypes: ['invoice.*'] },
      })
      expect(rotation).toEqual({
        tenantId: tenantA.id,
        endpointId: created.id,
        previousSecretUntil: rotated.json<{ previousSecretUntil: string }>().previousSecretUntil,
      })
      expect(gone).toMatchObject({ endpointId: created.id, before: { id: created.id } })
      const carried = JSON.stringify(heard)
      expect(carried).not.toContain('receiver-credential')
      expect(carried).not.toContain(created.secret)
      expect(carried).not.toContain(rotated.json<{ secret: string }>().secret)
    } finally {
      for (const off of offs) off()
    }
  })

  it('refuses unknown fields and bad ids with 400', async () => {
    const extra = await create(alice.token, {
      url: 'https://hooks.example.com/x',
      secret: 'whsec_mine',
    })
    expect(extra.statusCode).toBe(400)
    const badId = await t.app.inject({
      method: 'GET',
      url: `${base(tenantA)}/not-a-uuid`,
      headers: bearer(alice.token),
    })
    expect(badId.statusCode).toBe(400)
  })
})

describe('the event-type catalog', () => {
  it('lists every type with its payload as JSON Schema', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: '/webhooks/event-types',
      headers: bearer(viewer.token),
    })
    expect(response.statusCode).toBe(200)
    const { items } = response.json<{
      items: Array<{ name: string; schema: { properties: object } }>
    }>()
    expect(items.map((item) => item.name)).toEqual([
      'invoice.paid',
      'invoice.voided',
      'project.created',
    ])
    expect(items[0]?.schema).toMatchObject({
      type: 'object',
      properties: { invoiceId: { type: 'string' }, amount: { type: 'integer' } },
      required: ['invoiceId', 'amount'],
    })
  })

  it('needs a signed-in caller', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/webhooks/event-types' })
    expect(response.statusCode).toBe(401)
  })

  it("is the OpenAPI document's `webhooks` section: each type's signed POST and its payload", async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })
    expect(response.statusCode).toBe(200)
    const document = response.json<{
      openapi: string
      webhooks: Record<string, { post: Record<string, unknown> }>
    }>()
    expect(document.openapi).toBe('3.1.0')
    // Defined after the plugin was registered, listed all the same.
    expect(Object.keys(document.webhooks).sort()).toEqual([
      'invoice.paid',
      'invoice.voided',
      'project.created',
    ])
    const post = document.webhooks['invoice.paid']?.post
    expect(post).toMatchObject({
      tags: ['webhooks'],
      summary: 'An invoice was paid.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              required: ['type', 'timestamp', 'data'],
              properties: {
                type: { const: 'invoice.paid' },
                data: {
                  type: 'object',
                  properties: { invoiceId: { type: 'string' }, amount: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
      responses: { '2XX': expect.any(Object), '410': expect.any(Object) },
    })
    expect(
      ((post?.parameters ?? []) as Array<{ name: string }>).map((header) => header.name),
    ).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature'])
    expect(JSON.stringify(post)).not.toContain('$schema')
  })
})
