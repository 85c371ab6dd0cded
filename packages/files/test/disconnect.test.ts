import { connect } from 'node:net'
import { waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFilesApp,
  type FilesTestApp,
  filesOn,
  ownerOfNewTenant,
  PNG,
  sql,
} from './support/app.js'

describe('a client that disconnects mid-upload', () => {
  let t: FilesTestApp
  beforeAll(async () => {
    t = await createFilesApp({ upload: { maxFileBytes: 50 * 1024 * 1024 } })
  })
  afterAll(async () => t?.close())

  it('leaves no partial file, no row and no quota consumed (over a real socket)', async () => {
    const owner = await ownerOfNewTenant(t, 'leaver@example.com', 'Leaver')
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    if (!address || typeof address === 'string') throw new Error('no port')

    const boundary = '----acmedisconnect'
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n` +
        'Content-Type: image/png\r\n\r\n',
    )
    const declaredLength = 20 * 1024 * 1024
    const socket = connect(address.port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.write(
      `POST /tenants/${owner.tenantId}/files HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: ${owner.headers.authorization}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${declaredLength}\r\n\r\n`,
    )
    socket.write(head)
    socket.write(PNG)
    // About 2 MiB of a 20 MiB body, then the client goes away.
    for (let i = 0; i < 32; i += 1) socket.write(Buffer.alloc(64 * 1024, i))

    // The upload is being written: a partial file exists on disk.
    await waitFor(async () => (await filesOn(t.directory)).some((path) => path.endsWith('.part')), {
      timeoutMs: 20_000,
    })
    socket.destroy()

    await waitFor(async () => expect(await filesOn(t.directory)).toEqual([]), { timeoutMs: 20_000 })
    expect(
      await sql(t.db.owner.url, 'SELECT id FROM files WHERE tenant_id = $1', [owner.tenantId]),
    ).toEqual([])
    const usage = await sql<{ used_bytes: string }>(
      t.db.owner.url,
      'SELECT used_bytes::text FROM file_usage WHERE tenant_id = $1',
      [owner.tenantId],
    )
    expect(usage.map((row) => Number(row.used_bytes)).filter((bytes) => bytes > 0)).toEqual([])
    // The server is still serving.
    const health = await t.app.inject({ url: '/health/live' })
    expect(health.statusCode).toBe(200)
  })
})
