import { createHash } from 'node:crypto'
import { manualClock } from '@acme/test-kit'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Driver } from '../src/s3.js'
import {
  createFilesApp,
  ELF,
  type FilesTestApp,
  multipart,
  ownerOfNewTenant,
  PNG,
} from './support/app.js'
import { startS3, type TestS3 } from './support/s3.js'

describe('files on S3: uploads through the app, and direct uploads confirmed by the app', () => {
  const time = manualClock()
  let s3: TestS3
  let t: FilesTestApp
  let a: Awaited<ReturnType<typeof ownerOfNewTenant>>
  let b: Awaited<ReturnType<typeof ownerOfNewTenant>>

  beforeAll(async () => {
    s3 = await startS3()
    t = await createFilesApp({
      storage: new S3Driver({ client: s3.client, bucket: s3.bucket }),
      clock: time.now,
    })
    a = await ownerOfNewTenant(t, 's3-a@example.com', 'S3 A')
    b = await ownerOfNewTenant(t, 's3-b@example.com', 'S3 B')
  })
  afterAll(async () => {
    await t?.close()
    await s3?.close()
  })

  const objects = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? [])
      .map((object) => object.Key as string)
      .sort()

  const start = (owner: typeof a, name: string) =>
    t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files/direct-uploads`,
      headers: owner.headers,
      payload: { name },
    })
  const confirm = (owner: typeof a, ticket: string) =>
    t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files/direct-uploads/confirm`,
      headers: owner.headers,
      payload: { ticket },
    })
  const put = (url: string, body: Buffer | string) => fetch(url, { method: 'PUT', body })

  it('stores uploads through the app in the bucket and streams them back', async () => {
    const body = multipart([{ name: 'logo.png', content: PNG }])
    const uploaded = await t.app.inject({
      method: 'POST',
      url: `/tenants/${a.tenantId}/files`,
      headers: { ...a.headers, ...body.headers },
      payload: body.payload,
    })
    expect(uploaded.statusCode).toBe(201)
    const id = uploaded.json().items[0].id
    expect(await objects()).toContain(`${a.tenantId}/${id}`)
    const download = await t.app.inject({
      method: 'GET',
      url: `/tenants/${a.tenantId}/files/${id}/content`,
      headers: a.headers,
    })
    expect(download.statusCode).toBe(200)
    expect(download.rawPayload.equals(PNG)).toBe(true)
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${a.tenantId}/files/${id}`,
      headers: a.headers,
    })
    expect(removed.statusCode).toBe(204)
    expect(await objects()).not.toContain(`${a.tenantId}/${id}`)
  })

  it('a direct upload becomes a file only once confirmed, typed and hashed by the app', async () => {
    const started = await start(a, 'scan.png')
    expect(started.statusCode).toBe(201)
    const { ticket, url, method } = started.json()
    expect(method).toBe('PUT')
    expect((await put(url, PNG)).status).toBe(200)

    const before = await t.app.inject({ url: `/tenants/${a.tenantId}/files`, headers: a.headers })
    expect(before.json().items.map((f: { name: string }) => f.name)).not.toContain('scan.png')

    const confirmed = await confirm(a, ticket)
    expect(confirmed.statusCode).toBe(201)
    const file = confirmed.json()
    expect(file).toMatchObject({
      name: 'scan.png',
      contentType: 'image/png',
      sizeBytes: PNG.length,
      sha256: createHash('sha256').update(PNG).digest('hex'),
    })
    // The pending object is gone; the file has a key of its own.
    expect(await objects()).toContain(`${a.tenantId}/${file.id}`)
    expect((await objects()).filter((key) => key.includes(a.tenantId))).toEqual([
      `${a.tenantId}/${file.id}`,
    ])

    // Uploading to the signed URL again changes nothing the app recorded.
    await put(url, ELF)
    const download = await t.app.inject({
      method: 'GET',
      url: `/tenants/${a.tenantId}/files/${file.id}/content`,
      headers: a.headers,
    })
    expect(download.rawPayload.equals(PNG)).toBe(true)
    await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${a.tenantId}/files/${file.id}`,
      headers: a.headers,
    })
  })

  it('refuses a direct upload whose bytes are not what its name says (415) and removes it', async () => {
    const { ticket, url } = (await start(b, 'invoice.png')).json()
    await put(url, ELF)
    const before = await objects()
    expect(before.some((key) => key.startsWith(`pending/${b.tenantId}/`))).toBe(true)
    const refused = await confirm(b, ticket)
    expect(refused.statusCode).toBe(415)
    expect(refused.json().code).toBe('ACME_FILES_UNSUPPORTED_TYPE')
    expect((await objects()).some((key) => key.includes(b.tenantId))).toBe(false)
  })

  it('answers 404 for another tenant’s ticket, a changed one, one not uploaded, and an expired one', async () => {
    const { ticket, url } = (await start(b, 'b.png')).json()
    expect((await confirm(b, ticket)).statusCode).toBe(404) // nothing uploaded yet
    await put(url, PNG)
    expect((await confirm(a, ticket)).statusCode).toBe(404)
    const [payload, signature] = ticket.split('.')
    const changed = `${Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        t: a.tenantId,
      }),
    ).toString('base64url')}.${signature}`
    expect((await confirm(a, changed)).statusCode).toBe(404)
    time.advance(601_000)
    const expired = await confirm(b, ticket)
    expect(expired.statusCode).toBe(404)
    expect(expired.json().code).toBe('ACME_FILES_UPLOAD_NOT_FOUND')
  })
})

describe('direct uploads on a driver that cannot presign', () => {
  let t: FilesTestApp
  beforeAll(async () => {
    t = await createFilesApp()
  })
  afterAll(async () => t?.close())

  it('answer 409 on local disk', async () => {
    const owner = await ownerOfNewTenant(t, 'local@example.com', 'Local')
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files/direct-uploads`,
      headers: owner.headers,
      payload: { name: 'x.png' },
    })
    expect(response.statusCode).toBe(409)
    expect(response.json().code).toBe('ACME_FILES_DIRECT_UPLOAD_UNAVAILABLE')
  })
})

describe('a store that fails', () => {
  let s3: TestS3
  let t: FilesTestApp
  beforeAll(async () => {
    s3 = await startS3()
    // A real store whose bucket is missing: every write fails there.
    t = await createFilesApp({ storage: new S3Driver({ client: s3.client, bucket: 'missing' }) })
  })
  afterAll(async () => {
    await t?.close()
    await s3?.close()
  })

  it('answers 503 and records nothing, using no quota', async () => {
    const owner = await ownerOfNewTenant(t, 'down@example.com', 'Down')
    const body = multipart([{ name: 'scan.png', content: PNG }])
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
    expect(response.statusCode).toBe(503)
    expect(response.json().code).toBe('ACME_FILES_STORAGE_UNAVAILABLE')
    expect(response.body).not.toContain('missing')
    const listed = await t.app.inject({
      url: `/tenants/${owner.tenantId}/files`,
      headers: owner.headers,
    })
    expect(listed.json().items).toEqual([])
  })
})
