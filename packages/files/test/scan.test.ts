import { text } from 'node:stream/consumers'
import { waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ScanInput } from '../src/index.js'
import {
  createFilesApp,
  type FilesTestApp,
  filesOn,
  multipart,
  ownerOfNewTenant,
  sql,
} from './support/app.js'

// The antivirus test string: a real scanner reports it as a virus.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

describe('the scanning hook', () => {
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  let failing = false
  const scanned: string[] = []

  beforeAll(async () => {
    t = await createFilesApp({
      scan: async (input: ScanInput) => {
        if (failing) throw new Error('scanner unreachable')
        const content = await text(await input.open())
        scanned.push(input.fileId)
        return content.includes('EICAR-STANDARD-ANTIVIRUS-TEST-FILE')
          ? { verdict: 'infected', reason: 'EICAR test signature' }
          : { verdict: 'clean' }
      },
    })
    owner = await ownerOfNewTenant(t, 'scanned@example.com', 'Scanned')
  })
  afterAll(async () => t?.close())

  const upload = async (name: string, content: string) => {
    const body = multipart([{ name, content }])
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
    expect(response.statusCode).toBe(201)
    return response.json().items[0] as { id: string; status: string }
  }
  const metadata = (id: string) =>
    t.app.inject({ url: `/tenants/${owner.tenantId}/files/${id}`, headers: owner.headers })
  const usage = async () =>
    Number(
      (
        await sql<{ used_bytes: string }>(
          t.db.owner.url,
          'SELECT used_bytes::text FROM file_usage WHERE tenant_id = $1',
          [owner.tenantId],
        )
      )[0]?.used_bytes ?? 0,
    )

  it('keeps a file quarantined, not downloadable, until the hook passes it', async () => {
    failing = true
    const file = await upload('clean.txt', 'nothing to see\n')
    expect(file.status).toBe('quarantined')
    const download = await t.app.inject({
      url: `/tenants/${owner.tenantId}/files/${file.id}/content`,
      headers: owner.headers,
    })
    expect(download.statusCode).toBe(409)
    expect(download.json().code).toBe('ACME_FILES_QUARANTINED')
    const link = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files/${file.id}/signed-url`,
      headers: owner.headers,
    })
    expect(link.statusCode).toBe(409)

    // A hook that fails leaves the file where it is: quarantined.
    await expect(t.app.files.scanPending(owner.tenantId)).rejects.toThrow('scanner unreachable')
    expect((await metadata(file.id)).json().status).toBe('quarantined')

    failing = false
    // Runs what the job's retries would, now.
    await t.app.files.scanPending(owner.tenantId)
    expect((await metadata(file.id)).json().status).toBe('available')
    const after = await t.app.inject({
      url: `/tenants/${owner.tenantId}/files/${file.id}/content`,
      headers: owner.headers,
    })
    expect(after.statusCode).toBe(200)
    expect(after.body).toBe('nothing to see\n')
  })

  it('deletes a file the hook refuses: row, object and quota', async () => {
    const before = await usage()
    const file = await upload('eicar.txt', EICAR)
    // The job queued by the upload scans it: the row goes first, then the stored object.
    const key = `${owner.tenantId}/${file.id}`
    await waitFor(
      async () =>
        (await metadata(file.id)).statusCode === 404 && !(await filesOn(t.directory)).includes(key),
      { timeoutMs: 20_000 },
    )
    expect(scanned).toContain(file.id)
    expect(await usage()).toBe(before)
  })
})
