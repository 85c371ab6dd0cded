import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  captureLogStream,
  createTestDatabase,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'
import { ownerOfNewTenant } from './support/owner.js'

/** A real 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

function multipart(files: Array<{ name: string; content: Buffer | string }>) {
  const boundary = 'starterdocuments'
  const parts = files.flatMap((file) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n\r\n`,
    ),
    Buffer.from(file.content),
    Buffer.from('\r\n'),
  ])
  return {
    payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  }
}

describe('the starter’s document uploads (@acme/files)', () => {
  let app: FastifyInstance
  let dataDir: string
  let database: TestDatabase
  let owner: { authorization: string; 'x-tenant-id': string }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-files-'))
    database = await createTestDatabase({ label: 'starter-files' })
    const env = loadEnv(
      {
        PGLITE_DATA_DIR: join(dataDir, 'pglite'),
        MAIL_DIR: join(dataDir, 'mail'),
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        RATE_LIMIT_MAX: '1000',
        BRAND_NAME: 'Initech',
        PUBLIC_BASE_URL: 'https://api.initech.test',
      },
      join(dataDir, 'no.env'),
    )
    app = await buildApp(env, { logStream: captureLogStream() })
    await app.ready()
    owner = await ownerOfNewTenant(app, 'owner@docs.test', 'Docs')
  })

  afterAll(async () => {
    await app?.close()
    await database?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const upload = (files: Array<{ name: string; content: Buffer | string }>) => {
    const body = multipart(files)
    return app.inject({
      method: 'POST',
      url: '/documents',
      headers: { ...owner, 'content-type': body.contentType },
      payload: body.payload,
    })
  }

  it('stores a PNG under the data folder, typed by its bytes, and serves it back', async () => {
    const response = await upload([{ name: 'scan.png', content: PNG }])
    expect(response.statusCode).toBe(201)
    const [file] = response.json().items
    expect(file).toMatchObject({ name: 'scan.png', contentType: 'image/png', status: 'available' })
    expect(readdirSync(join(dataDir, 'files', owner['x-tenant-id']))).toEqual([file.id])
    const download = await app.inject({
      method: 'GET',
      url: `/tenants/${owner['x-tenant-id']}/files/${file.id}/content`,
      headers: owner,
    })
    expect(download.statusCode).toBe(200)
    expect(download.rawPayload.equals(PNG)).toBe(true)
  })

  it('refuses what the route does not take: 415 for the type, 413 past five files', async () => {
    const html = await upload([{ name: 'invoice.pdf', content: '<html><script>x</script></html>' }])
    expect(html.statusCode).toBe(415)
    expect(html.json().code).toBe('ACME_FILES_UNSUPPORTED_TYPE')
    const json = await upload([{ name: 'data.json', content: '{"a":1}' }])
    expect(json.statusCode).toBe(415)
    const six = await upload(
      Array.from({ length: 6 }, (_, i) => ({ name: `${i}.png`, content: PNG })),
    )
    expect(six.statusCode).toBe(413)
    expect(six.json().code).toBe('ACME_FILES_TOO_MANY_FILES')
  })
})
