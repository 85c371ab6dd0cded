import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'

const noEnvFile = join(tmpdir(), 'saas-starter-no.env')

describe('PUBLIC_BASE_URL', () => {
  it('defaults to localhost on the PORT the server listens on', () => {
    expect(loadEnv({ PORT: '4123' }, noEnvFile).PUBLIC_BASE_URL).toBe('http://localhost:4123')
    expect(loadEnv({}, noEnvFile).PUBLIC_BASE_URL).toBe('http://localhost:3000')
  })

  it('is taken as given when set, without a trailing slash', () => {
    const env = loadEnv({ PORT: '4123', PUBLIC_BASE_URL: 'https://api.initech.test/' }, noEnvFile)
    expect(env.PUBLIC_BASE_URL).toBe('https://api.initech.test')
  })
})

describe('the starter started with PORT and no PUBLIC_BASE_URL', () => {
  let app: FastifyInstance
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-port-'))
    const env = loadEnv(
      { PORT: '4123', PGLITE_DATA_DIR: join(dataDir, 'pglite'), MAIL_DIR: join(dataDir, 'mail') },
      noEnvFile,
    )
    app = await buildApp(env, { logStream: new PassThrough() })
    await app.ready()
  })

  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('names that port in the OpenAPI server, problem types and its own links', async () => {
    const document = (await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    expect(document.servers).toEqual([{ url: 'http://localhost:4123' }])
    const missing = await app.inject({ method: 'GET', url: '/nowhere' })
    expect(missing.json().type).toMatch(/^http:\/\/localhost:4123\/problems\//)
    const about = await app.inject({ method: 'GET', url: '/about' })
    expect(about.json().docs).toBe('http://localhost:4123/docs')
  })

  it('issues tokens with that origin as issuer', async () => {
    const credentials = { email: 'port@initech.test', password: 'correct horse battery' }
    await app.inject({ method: 'POST', url: '/auth/register', payload: credentials })
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
    const [, payload] = String(login.json().accessToken).split('.')
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).iss).toBe(
      'http://localhost:4123',
    )
  })
})
