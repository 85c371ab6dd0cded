import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFilesApp,
  ELF,
  type FilesTestApp,
  filesOn,
  HTML,
  multipart,
  ownerOfNewTenant,
  PE,
  PNG,
  sql,
} from './support/app.js'

const MiB = 1024 * 1024

describe('uploading (POST /tenants/:tenantId/files)', () => {
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    t = await createFilesApp({ upload: { maxFileBytes: 64 * 1024, maxFiles: 3 } })
    owner = await ownerOfNewTenant(t, 'uploader@example.com', 'Uploads')
  })
  afterAll(async () => t?.close())

  const upload = (body: ReturnType<typeof multipart>, tenantId = owner.tenantId) =>
    t.app.inject({
      method: 'POST',
      url: `/tenants/${tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })

  const rowsOf = (tenantId: string) =>
    sql<{ original_name: string; storage_key: string; content_type: string }>(
      t.db.owner.url,
      'SELECT original_name, storage_key, content_type FROM files WHERE tenant_id = $1 ORDER BY created_at',
      [tenantId],
    )

  it('stores a genuine PNG: 201, typed from its bytes, hashed, under a server key', async () => {
    const response = await upload(
      multipart([{ name: 'invoice.png', type: 'application/octet-stream', content: PNG }]),
    )
    expect(response.statusCode).toBe(201)
    const [file] = response.json().items
    expect(file).toMatchObject({
      name: 'invoice.png',
      sizeBytes: PNG.length,
      contentType: 'image/png',
      sha256: createHash('sha256').update(PNG).digest('hex'),
      status: 'available',
      ownerId: owner.userId,
    })
    expect(Object.keys(file)).not.toContain('storageKey')
    const stored = await readFile(join(t.directory, owner.tenantId, file.id))
    expect(stored.equals(PNG)).toBe(true)
  })

  describe('FILE-02: the type comes from the content', () => {
    it.each([
      ['ELF', ELF],
      ['PE', PE],
      ['HTML', HTML],
    ])('refuses invoice.png whose bytes are %s with 415, storing nothing', async (_kind, bytes) => {
      const before = await filesOn(t.directory)
      const response = await upload(
        multipart([{ name: 'invoice.png', type: 'image/png', content: bytes }]),
      )
      expect(response.statusCode).toBe(415)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(response.json()).toMatchObject({ code: 'ACME_FILES_UNSUPPORTED_TYPE', status: 415 })
      expect(await filesOn(t.directory)).toEqual(before)
    })

    it('stores what the bytes are, never the client header: a PNG sent as text/plain', async () => {
      const response = await upload(
        multipart([{ name: 'pixel', type: 'text/plain', content: PNG }]),
      )
      expect(response.statusCode).toBe(201)
      expect(response.json().items[0].contentType).toBe('image/png')
    })

    it('refuses a PNG that claims to be a JPEG by name or header (415)', async () => {
      const byName = await upload(multipart([{ name: 'photo.jpg', content: PNG }]))
      expect(byName.statusCode).toBe(415)
      const byHeader = await upload(
        multipart([{ name: 'photo', type: 'image/jpeg', content: PNG }]),
      )
      expect(byHeader.statusCode).toBe(415)
    })

    it('validates text formats by parsing them', async () => {
      const csv = await upload(
        multipart([{ name: 'rows.csv', type: 'text/csv', content: 'a,b\n1,"x, y"\n' }]),
      )
      expect(csv.statusCode).toBe(201)
      expect(csv.json().items[0].contentType).toBe('text/csv')
      // What browsers on Windows with Excel installed send for a .csv file.
      const fromExcel = await upload(
        multipart([{ name: 'rows.csv', type: 'application/vnd.ms-excel', content: 'a,b\n1,2\n' }]),
      )
      expect(fromExcel.json().items[0].contentType).toBe('text/csv')
      const json = await upload(
        multipart([{ name: 'data.json', content: '{"a":[1,2,{"b":null}]}' }]),
      )
      expect(json.statusCode).toBe(201)
      expect(json.json().items[0].contentType).toBe('application/json')
      const plain = await upload(multipart([{ name: 'notes.txt', content: 'hello\nworld\n' }]))
      expect(plain.json().items[0].contentType).toBe('text/plain')

      for (const [name, content] of [
        ['broken.json', '{"a": [1, 2}'],
        ['ragged.csv', 'a,b\n1,2,3\n'],
        ['open-quote.csv', 'a,b\n"1,2\n'],
        ['binary.txt', Buffer.from([0x68, 0x69, 0x00, 0x01, 0x02])],
        ['latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
      ] as const) {
        const response = await upload(multipart([{ name, content }]))
        expect(response.statusCode, name).toBe(415)
      }
    })

    it('refuses a script, whatever its name', async () => {
      const response = await upload(
        multipart([{ name: 'notes.txt', content: '#!/bin/sh\nrm -rf ~\n' }]),
      )
      expect(response.statusCode).toBe(415)
      expect(response.json().detectedType).toBe('text/x-shellscript')
    })

    it('refuses SVG: it is not sanitised', async () => {
      const svg =
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
      const response = await upload(multipart([{ name: 'logo.svg', content: svg }]))
      expect(response.statusCode).toBe(415)
      expect(response.json().detectedType).toBe('image/svg+xml')
    })
  })

  describe('FILE-01: limits fail closed with 413 and nothing stored', () => {
    it('a file over the route maximum', async () => {
      const before = await filesOn(t.directory)
      const big = Buffer.concat([PNG, Buffer.alloc(64 * 1024)])
      const response = await upload(multipart([{ name: 'big.png', content: big }]))
      expect(response.statusCode).toBe(413)
      expect(response.json()).toMatchObject({ code: 'ACME_FILES_FILE_TOO_LARGE' })
      expect(await filesOn(t.directory)).toEqual(before)
    })

    it('more files than the route accepts: none of them is stored', async () => {
      const before = await filesOn(t.directory)
      const rowsBefore = await rowsOf(owner.tenantId)
      const files = Array.from({ length: 4 }, (_, index) => ({
        name: `p${index}.png`,
        content: PNG,
      }))
      const response = await upload(multipart(files))
      expect(response.statusCode).toBe(413)
      expect(response.json()).toMatchObject({ code: 'ACME_FILES_TOO_MANY_FILES' })
      expect(await filesOn(t.directory)).toEqual(before)
      expect(await rowsOf(owner.tenantId)).toEqual(rowsBefore)
    })

    it('one bad file among good ones: none is stored', async () => {
      const before = await filesOn(t.directory)
      const response = await upload(
        multipart([
          { name: 'a.png', content: PNG },
          { name: 'b.png', content: ELF },
        ]),
      )
      expect(response.statusCode).toBe(415)
      expect(await filesOn(t.directory)).toEqual(before)
    })

    it('too many fields, or a field too long', async () => {
      const fields = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`f${i}`, 'x']))
      const many = await upload(multipart([{ name: 'a.png', content: PNG }], fields))
      expect(many.statusCode).toBe(413)
      expect(many.json().code).toBe('ACME_FILES_TOO_MANY_FIELDS')
      const long = await upload(
        multipart([{ name: 'a.png', content: PNG }], { note: 'x'.repeat(9_000) }),
      )
      expect(long.statusCode).toBe(413)
      expect(long.json().code).toBe('ACME_FILES_TOO_MANY_FIELDS')
    })

    it('a tenant over its plan’s storage quota', async () => {
      const small = await createFilesApp(
        {},
        {
          tenancy: {
            plans: {
              starter: {
                label: 'Starter',
                requestsPerMinute: null,
                seats: null,
                storageBytes: 2 * MiB,
              },
            },
          },
        },
      )
      try {
        const user = await ownerOfNewTenant(small, 'small@example.com', 'Small')
        const send = (content: Buffer) => {
          const body = multipart([{ name: 'data.txt', content }])
          return small.app.inject({
            method: 'POST',
            url: `/tenants/${user.tenantId}/files`,
            headers: { ...user.headers, ...body.headers },
            payload: body.payload,
          })
        }
        expect((await send(Buffer.alloc(1.5 * MiB, 'a'))).statusCode).toBe(201)
        const over = await send(Buffer.alloc(0.75 * MiB, 'b'))
        expect(over.statusCode).toBe(413)
        expect(over.json()).toMatchObject({ code: 'ACME_FILES_QUOTA_EXCEEDED' })
        expect(await filesOn(small.directory)).toHaveLength(1)
        const [usage] = await sql<{ used_bytes: string }>(
          small.db.owner.url,
          'SELECT used_bytes::text FROM file_usage WHERE tenant_id = $1',
          [user.tenantId],
        )
        expect(Number(usage?.used_bytes)).toBe(1.5 * MiB)
        // Deleting gives the bytes back: the same upload now fits.
        const list = await small.app.inject({
          method: 'GET',
          url: `/tenants/${user.tenantId}/files`,
          headers: user.headers,
        })
        const id = list.json().items[0].id
        const removed = await small.app.inject({
          method: 'DELETE',
          url: `/tenants/${user.tenantId}/files/${id}`,
          headers: user.headers,
        })
        expect(removed.statusCode).toBe(204)
        expect(await filesOn(small.directory)).toEqual([])
        expect((await send(Buffer.alloc(0.75 * MiB, 'b'))).statusCode).toBe(201)
      } finally {
        await small.close()
      }
    })
  })

  describe('FILE-03: names are metadata, keys are the server’s', () => {
    it.each([
      ['../../etc/passwd', 'passwd', 'plain words\n'],
      ['..\\..\\windows\\win.ini', 'win.ini', 'plain words\n'],
      ['evil\u0000.png', 'evil.png', PNG],
      ['/var/www/../../shell.png\u0000.txt', 'shell.png.txt', 'plain words\n'],
      ['invoice\u202Egnp.txt', 'invoicegnp.txt', 'plain words\n'],
      ['...', 'file', 'plain words\n'],
    ])('stores %j under a server key, named %j', async (name, expected, content) => {
      const response = await upload(multipart([{ name, content }]))
      expect(response.statusCode).toBe(201)
      const file = response.json().items[0]
      expect(file.name).toBe(expected)
      const [row] = (await rowsOf(owner.tenantId)).filter((r) => r.storage_key.endsWith(file.id))
      expect(row?.storage_key).toBe(`${owner.tenantId}/${file.id}`)
      expect(await filesOn(t.directory)).toContain(`${owner.tenantId}/${file.id}`)
    })

    it('refuses a name whose real extension is an executable’s, whatever it displays as', async () => {
      const response = await upload(multipart([{ name: 'photo\u202Egnp.exe', content: 'x\n' }]))
      expect(response.statusCode).toBe(415)
    })

    it('sends the name back in an RFC 6266 Content-Disposition, sanitised', async () => {
      const name = 'résumé final; v2.txt'
      const uploaded = await upload(multipart([{ name, content: 'cv\n' }]))
      const id = uploaded.json().items[0].id
      const download = await t.app.inject({
        method: 'GET',
        url: `/tenants/${owner.tenantId}/files/${id}/content`,
        headers: owner.headers,
      })
      expect(download.statusCode).toBe(200)
      expect(download.body).toBe('cv\n')
      expect(download.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(download.headers['x-content-type-options']).toBe('nosniff')
      expect(download.headers['content-disposition']).toBe(
        `attachment; filename="r_sum_ final_ v2.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final%3B%20v2.txt`,
      )
    })
  })

  it('answers a body that is not multipart with 415', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, 'content-type': 'application/json' },
      payload: { file: 'x' },
    })
    expect(response.statusCode).toBe(415)
    expect(response.headers['content-type']).toContain('application/problem+json')
  })

  it('answers a multipart body without a file with 400', async () => {
    const body = multipart([], { note: 'no file' })
    const response = await upload(body)
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_FILES_NO_FILE')
  })
})
