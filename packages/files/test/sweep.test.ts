import { randomUUID } from 'node:crypto'
import { utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { manualClock } from '@acme/test-kit'
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Driver } from '../src/s3.js'
import {
  createFilesApp,
  type FilesTestApp,
  filesOn,
  multipart,
  ownerOfNewTenant,
  PNG,
} from './support/app.js'
import { startS3, type TestS3 } from './support/s3.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** Stores bytes under a key as an upload does before its transaction: an object with no row. */
const orphan = async (t: FilesTestApp, tenantId: string) => {
  const key = `${tenantId}/${randomUUID()}`
  await t.app.files.storage.put(key, Readable.from([Buffer.from('never recorded')]), {
    contentType: 'text/plain',
  })
  return key
}

const uploadPng = async (t: FilesTestApp, owner: Awaited<ReturnType<typeof ownerOfNewTenant>>) => {
  const body = multipart([{ name: 'kept.png', content: PNG }])
  const response = await t.app.inject({
    method: 'POST',
    url: `/tenants/${owner.tenantId}/files`,
    headers: { ...owner.headers, ...body.headers },
    payload: body.payload,
  })
  expect(response.statusCode).toBe(201)
  return response.json().items[0].id as string
}

const download = (t: FilesTestApp, owner: { tenantId: string; headers: object }, id: string) =>
  t.app.inject({
    method: 'GET',
    url: `/tenants/${owner.tenantId}/files/${id}/content`,
    headers: owner.headers as Record<string, string>,
  })

describe('files.sweep on local disk, run by the in-process scheduler', () => {
  const clock = manualClock()
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    t = await createFilesApp(
      { clock: clock.now },
      { redis: false, core: { jobs: { clock: clock.now } } },
    )
    owner = await ownerOfNewTenant(t, 'sweep@example.com', 'Sweep')
  })
  afterAll(async () => t?.close())

  it('is scheduled at startup, every hour by default', async () => {
    expect(await t.app.jobs.schedules('files.sweep')).toEqual([
      expect.objectContaining({ name: 'files.sweep', schedule: { every: HOUR_MS }, payload: {} }),
    ])
  })

  it('removes objects no file records and temporary files once past the grace period, and nothing else', async () => {
    const kept = await uploadPng(t, owner)
    const lost = await orphan(t, owner.tenantId)
    // An orphan of a tenant that is gone: no row can name it either.
    const ofNoTenant = await orphan(t, randomUUID())
    const partial = join(t.directory, owner.tenantId, `${randomUUID()}.${randomUUID()}.part`)
    await writeFile(partial, 'half an upload')

    // Younger than the grace period (a day): an upload may still be recording them.
    expect(await t.app.files.sweep()).toEqual({ orphans: 0, partials: 0 })
    expect(await filesOn(t.directory)).toHaveLength(4)

    // A day and an hour later, the scheduled run is due and removes them.
    clock.advance(DAY_MS + HOUR_MS)
    const runs = await t.app.jobs.runDue()
    // (Other plugins' maintenance jobs are due at the same tick.)
    expect(runs).toContainEqual(expect.objectContaining({ name: 'files.sweep' }))
    const left = await filesOn(t.directory)
    expect(left).toEqual([`${owner.tenantId}/${kept}`])
    expect(left).not.toContain(lost)
    expect(left).not.toContain(ofNoTenant)
    const response = await download(t, owner, kept)
    expect(response.statusCode).toBe(200)
    expect(response.rawPayload.equals(PNG)).toBe(true)
  })

  it('keeps an old temporary file only while it is younger than the grace period', async () => {
    const partial = join(t.directory, owner.tenantId, `${randomUUID()}.${randomUUID()}.part`)
    await writeFile(partial, 'still being written')
    const recent = new Date(clock.now().getTime() - HOUR_MS)
    await utimes(partial, recent, recent)
    expect(await t.app.files.sweep()).toEqual({ orphans: 0, partials: 0 })
    const old = new Date(clock.now().getTime() - DAY_MS - HOUR_MS)
    await utimes(partial, old, old)
    expect(await t.app.files.sweep()).toEqual({ orphans: 0, partials: 1 })
  })
})

describe('files.sweep on S3, against a real S3-protocol server', () => {
  const clock = manualClock()
  let s3: TestS3
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    s3 = await startS3()
    t = await createFilesApp({
      storage: new S3Driver({ client: s3.client, bucket: s3.bucket, keyPrefix: 'files/' }),
      clock: clock.now,
      sweep: { graceSeconds: 3_600 },
    })
    owner = await ownerOfNewTenant(t, 's3-sweep@example.com', 'S3 sweep')
  })
  afterAll(async () => {
    await t?.close()
    await s3?.close()
  })

  const keys = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? [])
      .map((object) => object.Key as string)
      .sort()

  it('removes what no file records past the grace period; recorded files, pending uploads and foreign keys stay', async () => {
    const kept = await uploadPng(t, owner)
    const lost = await orphan(t, owner.tenantId)
    const pending = `files/pending/${owner.tenantId}/${randomUUID()}`
    const foreign = 'other-app/report.csv'
    for (const Key of [pending, foreign]) {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'x' }))
    }

    expect(await t.app.files.sweep()).toEqual({ orphans: 0, partials: 0 })
    expect(await keys()).toContain(`files/${lost}`)

    clock.advance(2 * HOUR_MS)
    expect(await t.app.files.sweep()).toEqual({ orphans: 1, partials: 0 })
    expect(await keys()).toEqual([`files/${owner.tenantId}/${kept}`, pending, foreign].sort())
    expect((await download(t, owner, kept)).statusCode).toBe(200)
  })
})
