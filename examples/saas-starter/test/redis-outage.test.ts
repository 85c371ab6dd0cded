import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  captureLogStream,
  createTestDatabase,
  startTcpProxy,
  type TcpProxy,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'
import { OWNER_PASSWORD, ownerOfNewTenant } from './support/owner.js'

// The starter in real mode with its Redis behind a proxy the test cuts: what a buyer's API does
// while Redis is down (security checklist CH-01).
let app: FastifyInstance
let database: TestDatabase
let proxy: TcpProxy
let receiver: Server
let dataDir: string
const received: Array<{ id: string; type: string; data: { id: string } }> = []

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition still false after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString()
    })
    request.on('end', () => {
      received.push({ id: String(request.headers['webhook-id']), ...JSON.parse(body) })
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const target = new URL(TEST_REDIS_URL)
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
  database = await createTestDatabase({ label: 'starter-outage' })
  dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-outage-'))
  const env = loadEnv(
    {
      DATABASE_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      RATE_LIMIT_MAX: '1000',
      WEBHOOKS_ALLOW_LOOPBACK: 'true',
      MAIL_DIR: join(dataDir, 'mail'),
      BRAND_NAME: 'Initech',
      PUBLIC_BASE_URL: 'https://api.initech.test',
    },
    join(dataDir, 'no.env'),
  )
  app = await buildApp(env, { logStream: captureLogStream() })
  await app.ready()
  await until(() => app.redis?.status === 'ready')
})

afterAll(async () => {
  await app?.close()
  await proxy?.close()
  await database?.drop()
  await new Promise((resolve) => receiver?.close(resolve))
  rmSync(dataDir, { recursive: true, force: true })
})

describe('the starter while Redis is down', () => {
  it('keeps writing, refuses logins with 503, and delivers the outage’s events once Redis is back', async () => {
    const credentials = { email: 'owner@outage.test', password: OWNER_PASSWORD }
    const headers = await ownerOfNewTenant(app, credentials.email, 'Outage')
    const { port } = receiver.address() as AddressInfo
    const endpoint = await app.inject({
      method: 'POST',
      url: `/tenants/${headers['x-tenant-id']}/webhooks/endpoints`,
      headers,
      payload: { url: `http://127.0.0.1:${port}/hooks`, eventTypes: ['project.created'] },
    })
    expect(endpoint.statusCode).toBe(201)

    await proxy.cut()
    await until(() => app.redis?.status !== 'ready')

    const created = await app.inject({
      method: 'POST',
      url: '/projects',
      headers,
      payload: { name: 'Written during the outage' },
    })
    expect(created.statusCode).toBe(201)
    const listed = await app.inject({ method: 'GET', url: '/projects', headers })
    expect(listed.statusCode).toBe(200)
    expect(listed.json().items.map((item: { id: string }) => item.id)).toContain(created.json().id)
    const audited = await app.inject({
      method: 'GET',
      url: '/audit/events?action=project.created',
      headers,
    })
    expect(audited.json().items).toHaveLength(1)

    // The login throttle cannot count: it refuses rather than letting guesses through.
    const refused = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
    expect(refused.statusCode).toBe(503)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(refused.json().accessToken).toBeUndefined()

    await proxy.restore()
    await until(() => received.some((event) => event.data.id === created.json().id))
    const deliveries = received.filter((event) => event.data.id === created.json().id)
    expect(deliveries.map((event) => event.type)).toEqual(['project.created'])
    const again = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
    expect(again.statusCode).toBe(200)
  })
})
