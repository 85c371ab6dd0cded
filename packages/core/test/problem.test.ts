import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineError, paginationQuery } from '../src/index.js'
import { PrismaClient } from './generated/prisma/client.js'
import { buildTestApp, type TestApp } from './support/app.js'
import { TEST_DATABASE_URL } from './support/env.js'

const InvoiceLocked = defineError('ACME_TEST_INVOICE_LOCKED', 409, 'Invoice Locked')

function routes(app: FastifyInstance) {
  const typed = app.withTypeProvider<ZodTypeProvider>()
  typed.post(
    '/users',
    {
      schema: {
        body: z.object({ email: z.email(), name: z.string().min(1) }).strict(),
        response: { 201: z.object({ id: z.string(), email: z.string() }) },
      },
    },
    async (request, reply) => {
      // The handler returns a secret field; the response schema must drop it.
      const user = { id: 'u1', email: request.body.email, passwordHash: 'argon2-hash' }
      return reply.code(201).send(user)
    },
  )
  typed.get('/items', { schema: { querystring: paginationQuery } }, async (request) => ({
    limit: request.query.limit,
  }))
  typed.post('/echo', async (request) => ({ received: request.body }))
  typed.get('/boom', async () => {
    throw new Error('secret internals at /srv/app/src/billing.ts: password=hunter2')
  })
  typed.get('/locked', async () => {
    throw new InvoiceLocked({ detail: 'Invoice 42 is locked.', headers: { 'x-lock': 'yes' } })
  })
  typed.get('/lost-connection', async () => {
    throw new Error('Client has encountered a connection error and is not queryable')
  })
  typed.get('/expired-transaction', async () => {
    throw Object.assign(new Error('Transaction already closed: expired'), { code: 'P2028' })
  })
  typed.get('/prisma-error', async () => {
    await app.prisma.$queryRaw`SELECT secret_column FROM table_that_does_not_exist`
  })
  typed.get('/things/:thingId', async (request) => ({ thing: request.params }))
  // A route that forgot the safe string schema: the database refuses the NUL, the net catches it.
  typed.post(
    '/unsafe-store',
    { schema: { body: z.object({ name: z.string() }).strict() } },
    async (request) => {
      await app.prisma.$queryRaw`SELECT ${request.body.name}::text AS stored`
      return { stored: true }
    },
  )
  typed.delete('/vanished', async () => {
    throw Object.assign(new Error('Record to delete does not exist.'), { code: 'P2025' })
  })
  typed.post('/clash', async () => {
    throw Object.assign(new Error('Unique constraint failed on the fields: (`email`)'), {
      code: 'P2002',
    })
  })
}

let t: TestApp
let prisma: PrismaClient

beforeAll(async () => {
  const { PrismaPg } = await import('@prisma/adapter-pg')
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: TEST_DATABASE_URL }) })
  t = await buildTestApp({ prisma, rateLimit: { max: 1_000 } }, routes)
})
afterAll(async () => {
  await t.app.close()
})

function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; json: () => unknown },
  status: number,
  code: string,
) {
  expect(response.statusCode).toBe(status)
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8')
  const body = response.json() as Record<string, unknown>
  expect(body).toMatchObject({
    type: `https://api.initech.test/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    status,
    code,
    requestId: response.headers['x-request-id'],
  })
  expect(typeof body.title).toBe('string')
  expect(typeof body.detail).toBe('string')
  expect(typeof body.instance).toBe('string')
  return body
}

describe('problem+json for every client error', () => {
  it('malformed JSON is a 400 with its own code', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@b.c",',
    })
    const body = expectProblem(response, 400, 'ACME_CORE_MALFORMED_JSON')
    expect(body.instance).toBe('/users')
  })

  it('an empty JSON body is a 400', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/json' },
      payload: '',
    })
    expectProblem(response, 400, 'ACME_CORE_EMPTY_JSON_BODY')
  })

  it('a content type the route does not accept is a 415', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/xml' },
      payload: '<user/>',
    })
    expectProblem(response, 415, 'ACME_CORE_UNSUPPORTED_MEDIA_TYPE')
  })

  it('VAL-01: a JSON body of 1 MiB + 1 byte is a 413', async () => {
    const filler = 'x'.repeat(1_048_576 + 1 - '{"email":"","name":"x"}'.length)
    const payload = `{"email":"${filler}","name":"x"}`
    expect(Buffer.byteLength(payload)).toBe(1_048_577)
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'application/json' },
      payload,
    })
    expectProblem(response, 413, 'ACME_CORE_PAYLOAD_TOO_LARGE')
  })

  it('an unknown route is a 404 problem', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/nope?token=abc' })
    const body = expectProblem(response, 404, 'ACME_CORE_ROUTE_NOT_FOUND')
    expect(body.instance).toBe('/nope')
    expect(JSON.stringify(body)).not.toContain('abc')
  })

  it('a validation failure is a 400 listing each field with its path', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'not-an-email', name: '', role: 'admin' },
    })
    const body = expectProblem(response, 400, 'ACME_CORE_VALIDATION_FAILED')
    const errors = body.errors as Array<Record<string, string>>
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'body', pointer: '/email', reason: 'invalid_format' }),
        expect.objectContaining({ in: 'body', pointer: '/name', reason: 'too_small' }),
        expect.objectContaining({ in: 'body', reason: 'unrecognized_keys' }),
      ]),
    )
  })

  it('VAL-01: ?limit=100000 is refused and the page size ceiling is 100', async () => {
    const tooMany = await t.app.inject({ method: 'GET', url: '/items?limit=100000' })
    const body = expectProblem(tooMany, 400, 'ACME_CORE_VALIDATION_FAILED')
    expect(body.errors).toEqual([expect.objectContaining({ in: 'query', pointer: '/limit' })])
    const ceiling = await t.app.inject({ method: 'GET', url: '/items?limit=100' })
    expect(ceiling.json()).toEqual({ limit: 100 })
    const fallback = await t.app.inject({ method: 'GET', url: '/items' })
    expect(fallback.json()).toEqual({ limit: 20 })
  })

  it('VAL-01: a body nested 1,000 deep is a 400 within a second', async () => {
    const payload = `${'['.repeat(1_000)}${']'.repeat(1_000)}`
    const started = performance.now()
    const response = await t.app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload,
    })
    expect(performance.now() - started).toBeLessThan(1_000)
    expectProblem(response, 400, 'ACME_CORE_JSON_TOO_DEEP')
  })

  it('brackets inside strings do not count towards the depth limit', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ text: '[[[['.repeat(100) }),
    })
    expect(response.statusCode).toBe(200)
  })

  it.each([
    ['__proto__', '{"__proto__":{"isAdmin":true}}'],
    ['constructor.prototype', '{"constructor":{"prototype":{"isAdmin":true}}}'],
  ])('VAL-01: a %s key is a 400 and pollutes nothing', async (_label, payload) => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload,
    })
    expectProblem(response, 400, 'ACME_CORE_FORBIDDEN_JSON_KEY')
    const later = await t.app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })
    expect(later.json()).toEqual({ received: { a: 1 } })
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('isAdmin')
  })

  it('an AcmeError keeps its code, status, detail and headers', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/locked' })
    const body = expectProblem(response, 409, 'ACME_TEST_INVOICE_LOCKED')
    expect(body).toMatchObject({ title: 'Invoice Locked', detail: 'Invoice 42 is locked.' })
    expect(response.headers['x-lock']).toBe('yes')
  })

  it('a response schema drops fields the handler should not have returned', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      payload: { email: 'a@initech.test', name: 'Ann' },
    })
    expect(response.statusCode).toBe(201)
    expect(response.json()).toEqual({ id: 'u1', email: 'a@initech.test' })
    expect(response.body).not.toContain('argon2-hash')
  })
})

describe("Fastify's and Node's own refusals are problems from the catalogue", () => {
  it('a malformed percent-encoding in the path is a 400 that does not echo the URL', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/things/%ff%fe' })
    const body = expectProblem(response, 400, 'ACME_CORE_BAD_URL')
    expect(response.body).not.toContain('FST_')
    expect(body.detail).not.toContain('%ff')
  })

  it('a path parameter over the router limit is a 414 that does not echo it', async () => {
    const long = 'a'.repeat(250)
    const response = await t.app.inject({ method: 'GET', url: `/things/${long}` })
    expectProblem(response, 414, 'ACME_CORE_URI_TOO_LONG')
    expect(response.body).not.toContain('FST_')
    expect(response.body).not.toContain(long)
  })

  it('an unknown path of 10,000 characters is a 404 whose instance is cut short', async () => {
    const response = await t.app.inject({ method: 'GET', url: `/${'b'.repeat(10_000)}` })
    const body = expectProblem(response, 404, 'ACME_CORE_ROUTE_NOT_FOUND')
    expect(response.body.length).toBeLessThan(2_000)
    expect((body.instance as string).length).toBeLessThanOrEqual(512)
  })

  it('a 100 KB query string over real HTTP is a 431 problem, not Fastify JSON', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const response = await fetch(`${address}/items?q=${'x'.repeat(100_000)}`)
    expect(response.status).toBe(431)
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8')
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ status: 431, code: 'ACME_CORE_HEADERS_TOO_LARGE' })
    expect(JSON.stringify(body)).not.toContain('xxxx')
  })
})

describe('what the database refuses because of the request is a 4xx, never a 500', () => {
  it('a NUL character a route forgot to refuse is a 400, and the detail is logged', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/unsafe-store',
      payload: { name: 'a\u0000b' },
    })
    const body = expectProblem(response, 400, 'ACME_CORE_UNSTORABLE_VALUE')
    expect(response.body).not.toMatch(/0x00|UTF8|SELECT/)
    const logged = t.logs.find((line) => line.reqId === body.requestId && line.level === 40)
    expect(JSON.stringify(logged)).toContain('22021')
  })

  it('a record that vanished under a concurrent request is a 404', async () => {
    const response = await t.app.inject({ method: 'DELETE', url: '/vanished' })
    expectProblem(response, 404, 'ACME_CORE_NOT_FOUND')
  })

  it('a unique clash is a 409 that does not name the column', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/clash', payload: {} })
    expectProblem(response, 409, 'ACME_CORE_CONFLICT')
    expect(response.body).not.toContain('email')
  })
})

describe('VAL-03: unexpected errors are a generic 500', () => {
  const internals = [/hunter2/, /\/srv\/app/, /billing\.ts/, /\bat\s/, /stack/i, /SELECT/, /secret/]

  it('an unhandled exception answers 500 with the request id and nothing internal', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/boom' })
    const body = expectProblem(response, 500, 'ACME_CORE_INTERNAL')
    for (const pattern of internals) expect(response.body).not.toMatch(pattern)
    const logged = t.logs.find((line) => line.reqId === body.requestId && line.level === 50)
    expect(JSON.stringify(logged)).toContain('secret internals at /srv/app/src/billing.ts')
  })

  it('a Prisma error answers 500 without SQL, and the detail is logged', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/prisma-error' })
    const body = expectProblem(response, 500, 'ACME_CORE_INTERNAL')
    for (const pattern of internals) expect(response.body).not.toMatch(pattern)
    const logged = t.logs.find((line) => line.reqId === body.requestId && line.level === 50)
    expect(JSON.stringify(logged)).toContain('table_that_does_not_exist')
  })
})

describe('CH-02: a database connection lost under a request', () => {
  it('answers 503 with Retry-After, whether the driver or a transaction deadline says so', async () => {
    for (const url of ['/lost-connection', '/expired-transaction']) {
      const response = await t.app.inject({ method: 'GET', url })
      expectProblem(response, 503, 'ACME_CORE_DEPENDENCY_UNAVAILABLE')
      expect(response.headers['retry-after']).toBe('5')
      expect(response.body).not.toMatch(/queryable|P2028|already closed/)
    }
  })
})

describe('rate limit', () => {
  it('answers 429 problem+json with Retry-After and RateLimit headers', async () => {
    const limited = await buildTestApp({ rateLimit: { max: 2, timeWindowMs: 60_000 } }, (app) => {
      app.get('/ping', async () => ({ ok: true }))
    })
    try {
      const statuses: number[] = []
      let last = await limited.app.inject({ method: 'GET', url: '/ping' })
      statuses.push(last.statusCode)
      for (let i = 0; i < 2; i++) {
        last = await limited.app.inject({ method: 'GET', url: '/ping' })
        statuses.push(last.statusCode)
      }
      expect(statuses).toEqual([200, 200, 429])
      expectProblem(last, 429, 'ACME_CORE_RATE_LIMITED')
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0)
      expect(last.headers.ratelimit ?? last.headers['ratelimit-limit']).toBeDefined()
      const unknown = await limited.app.inject({ method: 'GET', url: '/missing' })
      expect(unknown.statusCode).toBe(429)
    } finally {
      await limited.app.close()
    }
  })
})
