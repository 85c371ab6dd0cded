import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFilesApp,
  ELF,
  type FilesTestApp,
  filesOn,
  ownerOfNewTenant,
  PNG,
} from './support/app.js'

/** Sends a large multipart body over a real socket, answering the status and the body. */
function send(port: number, path: string, headers: Record<string, string>, first: Buffer) {
  const boundary = 'acmeearly'
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="invoice.png"\r\n` +
      'Content-Type: image/png\r\n\r\n',
  )
  const filler = Buffer.alloc(4 * 1024 * 1024, 0x41)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          ...headers,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + first.length + filler.length + tail.length),
        },
      },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    // The server may answer and close before the whole body is written: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error)
    })
    req.write(head)
    req.write(first)
    req.write(filler)
    req.end(tail)
  })
}

describe('a refusal decided on the first bytes, over a real socket', () => {
  let t: FilesTestApp
  let port: number
  beforeAll(async () => {
    t = await createFilesApp({ upload: { maxFileBytes: 1024 * 1024 } })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as { port: number }).port
  })
  // Closing waits for every connection: one left stuck on an unread body would time this out.
  afterAll(async () => t?.close())

  it('reaches the client while it is still sending, and the server goes on serving', async () => {
    const owner = await ownerOfNewTenant(t, 'early@example.com', 'Early')
    const path = `/tenants/${owner.tenantId}/files`
    const refused = await send(port, path, owner.headers, ELF)
    expect(refused.status).toBe(415)
    expect(JSON.parse(refused.body).code).toBe('ACME_FILES_UNSUPPORTED_TYPE')
    const tooLarge = await send(port, path, owner.headers, PNG)
    expect(tooLarge.status).toBe(413)
    expect(await filesOn(t.directory)).toEqual([])
    const health = await fetch(`http://127.0.0.1:${port}/health/live`)
    expect(health.status).toBe(200)
  })
})
