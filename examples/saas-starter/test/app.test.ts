import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const modes = [
  { name: 'embedded (no DATABASE_URL, no REDIS_URL)', extra: {}, checks: ['database'] },
  {
    name: 'real PostgreSQL and Redis',
    extra: { DATABASE_URL, REDIS_URL },
    checks: ['database', 'queue', 'redis'],
  },
] as const

describe.each(modes)('the starter in $name mode', ({ extra, checks }) => {
  let app: FastifyInstance
  let dataDir: string
  const logLines: string[] = []

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-'))
    const logStream = new PassThrough()
    logStream.on('data', (chunk: Buffer) => logLines.push(chunk.toString()))
    const env = loadEnv(
      {
        PGLITE_DATA_DIR: join(dataDir, 'pglite'),
        MAIL_DIR: join(dataDir, 'mail'),
        BRAND_NAME: 'Initech',
        PUBLIC_BASE_URL: 'https://api.initech.test',
        ...extra,
      },
      join(dataDir, 'no.env'),
    )
    app = await buildApp(env, { logStream })
    await app.ready()
  })

  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('is ready, listing its checks', async () => {
    // Redis connects in the background after startup; readiness turns 200 once it has.
    let response = await app.inject({ method: 'GET', url: '/health/ready' })
    for (let tries = 0; response.statusCode !== 200 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      response = await app.inject({ method: 'GET', url: '/health/ready' })
    }
    expect(response.statusCode).toBe(200)
    expect(Object.keys(response.json().checks).sort()).toEqual([...checks])
  })

  it('serves the interactive docs and a valid OpenAPI 3.1 document', async () => {
    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers['content-type']).toContain('text/html')
    const document = (await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    expect(document.openapi).toBe('3.1.0')
    expect((await new Validator().validate(document)).valid).toBe(true)
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/about', '/health/ready', '/health/live']),
    )
  })

  it('answers its own route with the brand', async () => {
    const response = await app.inject({ method: 'GET', url: '/about' })
    expect(response.json()).toEqual({
      name: 'Initech',
      docs: 'https://api.initech.test/docs',
      openapi: 'https://api.initech.test/docs/openapi.json',
    })
  })

  it('logs which mode it runs in', () => {
    const text = logLines.join('')
    expect(text).toMatch(
      'REDIS_URL' in extra ? /running with PostgreSQL and Redis/ : /running in embedded mode/,
    )
  })
})
