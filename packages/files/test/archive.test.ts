import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Driver } from '../src/s3.js'
import {
  createFilesApp,
  type FilesTestApp,
  filesOn,
  multipart,
  ownerOfNewTenant,
  PNG,
  sql,
} from './support/app.js'
import { startS3, type TestS3 } from './support/s3.js'
import { renamed, zipOf, zipWithUnicodePath } from './support/zip.js'

const MiB = 1024 * 1024
const ZIP_ROUTE = {
  allowedTypes: ['application/zip', 'image/png'],
  archive: { maxEntries: 10, maxUncompressedBytes: MiB },
}

/** The archives a route must refuse, with the code and reason each is refused with. */
async function hostileArchives() {
  const ok = (name: string) =>
    zipOf([
      { name: 'readme.txt', content: 'hi' },
      { name, content: 'x' },
    ])
  return [
    [
      'an entry named ../',
      renamed(await ok('aa/evil.sh'), 'aa/evil.sh', '../evil.sh'),
      'parent-path',
    ],
    [
      'an entry deeper with ..',
      renamed(await ok('a/bb/c.txt'), 'a/bb/c.txt', 'a/../../cx'),
      'parent-path',
    ],
    ['a backslashed ..\\', renamed(await ok('aa_evil'), 'aa_evil', '..\\evil'), 'parent-path'],
    [
      'an absolute path',
      renamed(await ok('xetc/passwd'), 'xetc/passwd', '/etc/passwd'),
      'absolute-path',
    ],
    [
      'a drive letter',
      renamed(await ok('Cx/boot.ini'), 'Cx/boot.ini', 'C:/boot.ini'),
      'absolute-path',
    ],
    ['a NUL in a name', renamed(await ok('aXb.txt'), 'aXb.txt', 'a\0b.txt'), 'nul-in-name'],
    [
      'a hostile Unicode path beside a benign name',
      zipWithUnicodePath('safe.txt', '../../x.txt', 'x'),
      'parent-path',
    ],
  ] as const
}

describe('archive inspection (FILE-03: hostile archives are refused)', () => {
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    t = await createFilesApp({ upload: { maxFileBytes: 4 * MiB, ...ZIP_ROUTE } })
    owner = await ownerOfNewTenant(t, 'archives@example.com', 'Archives')
  })
  afterAll(async () => t?.close())

  const upload = (body: ReturnType<typeof multipart>) =>
    t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
  const rows = () =>
    sql<{ id: string }>(t.db.owner.url, 'SELECT id FROM files WHERE tenant_id = $1', [
      owner.tenantId,
    ])
  const usage = async () =>
    Number(
      (
        await sql<{ used_bytes: string }>(
          t.db.owner.url,
          'SELECT used_bytes FROM file_usage WHERE tenant_id = $1',
          [owner.tenantId],
        )
      )[0]?.used_bytes ?? 0,
    )

  it('stores a well-formed archive the route allows', async () => {
    const zip = await zipOf([
      { name: 'docs/readme.txt', content: 'hello' },
      { name: 'docs/..hidden/ok.txt', content: 'dots in a name are fine' },
    ])
    const response = await upload(multipart([{ name: 'bundle.zip', content: zip }]))
    expect(response.statusCode).toBe(201)
    expect(response.json().items[0]).toMatchObject({
      contentType: 'application/zip',
      sizeBytes: zip.length,
    })
  })

  it('refuses each hostile archive with 415 ACME_FILES_ARCHIVE_REFUSED: nothing stored, no quota', async () => {
    const before = { files: await filesOn(t.directory), rows: await rows(), usage: await usage() }
    for (const [kind, zip, reason] of await hostileArchives()) {
      const response = await upload(multipart([{ name: 'bundle.zip', content: zip }]))
      expect(response.statusCode, kind).toBe(415)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(response.json(), kind).toMatchObject({ code: 'ACME_FILES_ARCHIVE_REFUSED', reason })
      // The hostile name is not echoed back.
      expect(response.body).not.toContain('passwd')
    }
    expect(await filesOn(t.directory)).toEqual(before.files)
    expect(await rows()).toEqual(before.rows)
    expect(await usage()).toBe(before.usage)
  })

  it('refuses more entries than the route allows with 413, storing nothing', async () => {
    const before = await filesOn(t.directory)
    const zip = await zipOf(
      Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt`, content: String(i) })),
    )
    const response = await upload(multipart([{ name: 'many.zip', content: zip }]))
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({
      code: 'ACME_FILES_ARCHIVE_TOO_LARGE',
      reason: 'entries',
    })
    expect(await filesOn(t.directory)).toEqual(before)
  })

  it('refuses a zip bomb by its declared expansion, before anyone extracts it', async () => {
    const before = await filesOn(t.directory)
    const zip = await zipOf([
      { name: 'a.bin', content: Buffer.alloc(MiB / 2), compress: true },
      { name: 'b.bin', content: Buffer.alloc(MiB / 2 + 1), compress: true },
    ])
    expect(zip.length).toBeLessThan(8 * 1024)
    const response = await upload(multipart([{ name: 'bomb.zip', content: zip }]))
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({
      code: 'ACME_FILES_ARCHIVE_TOO_LARGE',
      reason: 'uncompressed-size',
    })
    expect(await filesOn(t.directory)).toEqual(before)
  })

  it('refuses a zip whose directory cannot be read (truncated) with 415', async () => {
    const zip = await zipOf([{ name: 'a.txt', content: 'a' }])
    const response = await upload(
      multipart([{ name: 'cut.zip', content: zip.subarray(0, zip.length - 10) }]),
    )
    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({
      code: 'ACME_FILES_ARCHIVE_REFUSED',
      reason: 'unreadable',
    })
  })

  it('a hostile archive among good files: none of them is stored', async () => {
    const before = await filesOn(t.directory)
    const [, zip] = (await hostileArchives())[0]
    const response = await upload(
      multipart([
        { name: 'logo.png', content: PNG },
        { name: 'bundle.zip', content: zip },
      ]),
    )
    expect(response.statusCode).toBe(415)
    expect(await filesOn(t.directory)).toEqual(before)
  })

  it('a route that does not allow zip refuses it by type, without opening it', async () => {
    const plain = await createFilesApp()
    try {
      const user = await ownerOfNewTenant(plain, 'no-zip@example.com', 'No zip')
      const body = multipart([{ name: 'bundle.zip', content: (await hostileArchives())[0][1] }])
      const response = await plain.app.inject({
        method: 'POST',
        url: `/tenants/${user.tenantId}/files`,
        headers: { ...user.headers, ...body.headers },
        payload: body.payload,
      })
      expect(response.statusCode).toBe(415)
      expect(response.json()).toMatchObject({
        code: 'ACME_FILES_UNSUPPORTED_TYPE',
        detectedType: 'application/zip',
      })
    } finally {
      await plain.close()
    }
  })
})

describe('archive inspection on S3 (the directory read by ranged GETs)', () => {
  let s3: TestS3
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    s3 = await startS3()
    t = await createFilesApp({
      storage: new S3Driver({ client: s3.client, bucket: s3.bucket }),
      upload: ZIP_ROUTE,
    })
    owner = await ownerOfNewTenant(t, 's3-archives@example.com', 'S3 archives')
  })
  afterAll(async () => {
    await t?.close()
    await s3?.close()
  })

  const upload = (name: string, content: Buffer) => {
    const body = multipart([{ name, content }])
    return t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
  }

  it('stores a good archive and refuses a hostile one, leaving no object behind', async () => {
    const good = await zipOf([{ name: 'a/b.txt', content: 'b' }])
    expect((await upload('good.zip', good)).statusCode).toBe(201)
    const [kind, hostile, reason] = (await hostileArchives())[3]
    const response = await upload('bad.zip', hostile)
    expect(response.statusCode, kind).toBe(415)
    expect(response.json()).toMatchObject({ code: 'ACME_FILES_ARCHIVE_REFUSED', reason })
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3')
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))
    expect(listed.Contents ?? []).toHaveLength(1)
  })
})
