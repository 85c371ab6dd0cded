import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { postWebhook } from '../src/delivery/http.js'
import { systemResolver } from '../src/ssrf/guard.js'

/**
 * Connections kept open between deliveries: a real TCP server on loopback speaking just enough
 * HTTP/1.1, so the test sees every connection and can close one the way a receiver does.
 */

const servers: Server[] = []

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.close()
  }
})

/** Answers 204 (keep-alive) to each request; with `resetSecond`, resets a connection's second. */
async function startServer(resetSecond: boolean) {
  const seen = { connections: 0, requests: 0 }
  const server = createServer((socket: Socket) => {
    seen.connections++
    let onThisConnection = 0
    let buffered = ''
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        buffered = buffered.slice(end + 4 + length)
        seen.requests++
        onThisConnection++
        if (resetSecond && onThisConnection === 2) {
          socket.resetAndDestroy()
          return
        }
        socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n')
      }
    })
    socket.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  servers.push(server)
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { seen, url: `http://127.0.0.1:${address.port}/hook` }
}

const post = (url: string) =>
  postWebhook({
    url,
    headers: { 'webhook-id': 'msg_keepalive' },
    body: '{"type":"invoice.paid"}',
    timeoutMs: 10_000,
    maxBodyBytes: 4_096,
    guard: { allowAddresses: ['127.0.0.1'], resolve: systemResolver },
  })

describe('connections between deliveries', () => {
  it('reuses one connection for deliveries to the same checked address', async () => {
    const { seen, url } = await startServer(false)
    expect((await post(url)).status).toBe(204)
    expect((await post(url)).status).toBe(204)
    expect((await post(url)).status).toBe(204)
    expect(seen).toEqual({ connections: 1, requests: 3 })
  })

  it('a kept connection the receiver closed: the delivery goes again on a new one, not failed', async () => {
    const { seen, url } = await startServer(true)
    expect((await post(url)).status).toBe(204)
    // Sent on the kept connection, which the receiver resets: once more on a new connection.
    expect((await post(url)).status).toBe(204)
    expect(seen).toEqual({ connections: 2, requests: 3 })
  })
})
