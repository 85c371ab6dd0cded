import { PassThrough } from 'node:stream'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acmeCore, serverOptions } from '../src/index.js'
import { buildTestApp, TEST_BRAND, type TestApp } from './support/app.js'

const SECRETS = {
  bearer: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXNlY3JldA',
  cookie: 'session=cookie-secret-value',
  password: 'correct horse battery staple',
  resetToken: 'reset-token-3f9a1c77',
  apiKey: 'ak_live_0123456789abcdef',
}

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({}, (app) => {
    app.post('/login', async (request) => {
      request.log.info({ body: request.body }, 'login attempt')
      throw new Error('database exploded')
    })
    app.get('/verify', async (request) => {
      request.log.info({ headers: request.headers }, 'verifying')
      return { ok: true }
    })
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('log redaction', () => {
  it('keeps authorization, cookies, API keys, passwords and tokens out of every log line', async () => {
    await t.app.inject({
      method: 'POST',
      url: `/login?token=${SECRETS.resetToken}`,
      headers: {
        authorization: `Bearer ${SECRETS.bearer}`,
        cookie: SECRETS.cookie,
        'x-api-key': SECRETS.apiKey,
      },
      payload: { email: 'a@initech.test', password: SECRETS.password, token: SECRETS.resetToken },
    })
    await t.app.inject({
      method: 'GET',
      url: `/verify?code=123456&token=${SECRETS.resetToken}`,
      headers: { authorization: `Bearer ${SECRETS.bearer}`, cookie: SECRETS.cookie },
    })
    const raw = t.rawLogs()
    for (const secret of Object.values(SECRETS)) expect(raw).not.toContain(secret)
    expect(raw).not.toContain('123456')
    expect(raw).toContain('[REDACTED]')
    // The lines are still useful: the error and the request are there.
    expect(raw).toContain('database exploded')
    expect(raw).toContain('/verify?code=[REDACTED]&token=[REDACTED]')
  })

  it('labels every request line with its request id, and trusts only safe incoming ids', async () => {
    const safe = await t.app.inject({
      method: 'GET',
      url: '/verify',
      headers: { 'x-request-id': 'edge-abc.123' },
    })
    expect(safe.headers['x-request-id']).toBe('edge-abc.123')
    expect(t.logs.some((line) => line.reqId === 'edge-abc.123')).toBe(true)

    const hostile = await t.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'x\u001b[31m injected' },
    })
    const replacement = hostile.headers['x-request-id']
    expect(replacement).toMatch(/^[0-9a-f-]{36}$/)
    expect(t.logs.some((line) => line.reqId === replacement)).toBe(true)
    expect(t.rawLogs()).not.toContain('injected')
  })
})

describe('request logging', () => {
  it("writes Fastify's two lines per request by default, and none when turned off, keeping errors", async () => {
    const lines = async (requestLogging?: boolean) => {
      const stream = new PassThrough()
      const written: Array<Record<string, unknown>> = []
      stream.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          written.push(JSON.parse(line) as Record<string, unknown>)
        }
      })
      const app = Fastify(serverOptions({ logger: { stream }, requestLogging }))
      await app.register(acmeCore, { brand: TEST_BRAND, mail: { transport: 'memory' } })
      app.get('/ok', async () => ({ ok: true }))
      app.get('/broken', async () => {
        throw new Error('handler exploded')
      })
      await app.inject({ url: '/ok' })
      await app.inject({ url: '/broken' })
      await app.close()
      return written.map((line) => String(line.msg))
    }
    const byDefault = await lines()
    expect(byDefault.filter((msg) => msg === 'incoming request')).toHaveLength(2)
    expect(byDefault.filter((msg) => msg === 'request completed')).toHaveLength(2)
    const off = await lines(false)
    expect(off).not.toContain('incoming request')
    expect(off).not.toContain('request completed')
    expect(off).toContain('request failed')
  })
})
