import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { captureLogStream } from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'

const noEnvFile = join(tmpdir(), 'saas-starter-no.env')

/** `npx acme keys generate`, as getting-started tells a new user to run it. */
function generatedPrivateKeys(): string {
  const cli = dirname(createRequire(import.meta.url).resolve('@acme/cli/package.json'))
  const run = spawnSync(process.execPath, [join(cli, 'dist/cli.js'), 'keys', 'generate'], {
    encoding: 'utf8',
  })
  if (run.status !== 0) throw new Error(`acme keys generate failed: ${run.stderr}`)
  return run.stdout.trim()
}

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

describe('REDIS_CLUSTER_URLS', () => {
  it('reads comma-separated seed nodes, and refuses anything but redis URLs, naming the variable', () => {
    const env = loadEnv(
      { REDIS_CLUSTER_URLS: 'redis://10.0.0.5:6379, redis://10.0.0.6:6379,' },
      noEnvFile,
    )
    expect(env.REDIS_CLUSTER_URLS).toEqual(['redis://10.0.0.5:6379', 'redis://10.0.0.6:6379'])
    expect(loadEnv({}, noEnvFile).REDIS_CLUSTER_URLS).toEqual([])
    expect(() => loadEnv({ REDIS_CLUSTER_URLS: 'http://10.0.0.5:6379' }, noEnvFile)).toThrow(
      /REDIS_CLUSTER_URLS/,
    )
  })
})

describe('the starter started with PORT, no PUBLIC_BASE_URL and generated JWT_PRIVATE_KEYS', () => {
  let app: FastifyInstance
  let dataDir: string
  let signingKid: string
  const logLines: string[] = []

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-port-'))
    const privateKeys = generatedPrivateKeys()
    signingKid = (JSON.parse(privateKeys) as Array<{ kid: string }>)[0]?.kid ?? ''
    const env = loadEnv(
      {
        PORT: '4123',
        JWT_PRIVATE_KEYS: privateKeys,
        PGLITE_DATA_DIR: join(dataDir, 'pglite'),
        MAIL_DIR: join(dataDir, 'mail'),
      },
      noEnvFile,
    )
    const logStream = new PassThrough()
    logStream.on('data', (chunk: Buffer) => logLines.push(chunk.toString()))
    app = await buildApp(env, { logStream: captureLogStream(logStream) })
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

  it('signs tokens with the generated key, with that origin as issuer', async () => {
    const credentials = { email: 'port@initech.test', password: 'correct horse battery' }
    await app.inject({ method: 'POST', url: '/auth/register', payload: credentials })
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
    const token = String(login.json().accessToken)
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => {
        return JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>
      })
    expect(payload?.iss).toBe('http://localhost:4123')
    expect(header).toMatchObject({ alg: 'EdDSA', kid: signingKid })
    const me = await app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(me.statusCode).toBe(200)
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
    expect(jwks.keys.map((key: { kid: string }) => key.kid)).toEqual([signingKid])
    expect(logLines.join('')).not.toContain('JWT_PRIVATE_KEYS is not set')
  })
})
