import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeliveryFailure, postWebhook } from '../src/delivery/http.js'
import { classifyAddress } from '../src/index.js'
import { generateSecret, signedHeaders } from '../src/services/secrets.js'
import {
  type GuardSettings,
  resolvePinned,
  SsrfRefusal,
  systemResolver,
} from '../src/ssrf/guard.js'

/** A real HTTP receiver on loopback; each test sets what it answers. */
interface Receiver {
  server: Server
  port: number
  received: Array<{ path: string; headers: IncomingMessage['headers']; body: string }>
  answer: (request: IncomingMessage, response: ServerResponse) => void
}

let receiver: Receiver

beforeAll(async () => {
  const state: Receiver = {
    server: createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        state.received.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        })
        state.answer(request, response)
      })
    }),
    port: 0,
    received: [],
    answer: (_request, response) => response.writeHead(204).end(),
  }
  state.server.listen(0, '127.0.0.1')
  await once(state.server, 'listening')
  state.port = (state.server.address() as AddressInfo).port
  receiver = state
})

afterAll(async () => {
  receiver.server.closeAllConnections()
  await new Promise((resolve) => receiver.server.close(resolve))
})

const loopbackAllowed: GuardSettings = { allowAddresses: ['127.0.0.1'], resolve: systemResolver }
const guarded: GuardSettings = { allowAddresses: [], resolve: systemResolver }

describe('address classes', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['127.0.0.53', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.255', 'carrier-grade-nat'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::', 'loopback'],
    ['::', 'unspecified'],
    ['::127.0.0.1', 'reserved'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.51.100.7', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['not-an-ip', 'invalid'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind)
  })
})

describe('the connect-time check (WH-05)', () => {
  it('resolves with the system resolver and refuses a name with a loopback address', async () => {
    // `localhost` and this machine's name resolve through /etc/hosts: real resolutions.
    for (const host of ['localhost', 'vm']) {
      await expect(resolvePinned(new URL(`http://${host}:1/`), guarded)).rejects.toThrow(
        SsrfRefusal,
      )
    }
  })

  it('refuses a name when any of its addresses is not public, and pins the one checked', async () => {
    // Resolution is an argument of the guard: this resolver answers as a rebinding attacker's
    // DNS would, one public and one internal address for the same name.
    const mixed: GuardSettings = {
      allowAddresses: [],
      resolve: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ],
    }
    await expect(resolvePinned(new URL('https://rebind.example/'), mixed)).rejects.toThrow(
      '169.254.169.254 is a cloud metadata address',
    )
    const publicOnly: GuardSettings = {
      allowAddresses: [],
      resolve: async () => [{ address: '2606:4700::6810:84e5', family: 6 }],
    }
    expect(await resolvePinned(new URL('https://ok.example/'), publicOnly)).toEqual({
      address: '2606:4700::6810:84e5',
      family: 6,
    })
  })

  it('a delivery to a loopback receiver is refused without the test allowlist', async () => {
    const before = receiver.received.length
    const attempt = postWebhook({
      url: `http://127.0.0.1:${receiver.port}/hook`,
      headers: {},
      body: '{}',
      timeoutMs: 10_000,
      maxBodyBytes: 1024,
      guard: guarded,
    })
    await expect(attempt).rejects.toMatchObject({ kind: 'refused' })
    await expect(attempt).rejects.toBeInstanceOf(DeliveryFailure)
    expect(receiver.received.length).toBe(before)
  })

  it('delivers a signed request the reference verifier accepts, through the allowlist', async () => {
    receiver.answer = (_request, response) => {
      response.writeHead(200, { 'x-receiver': 'yes' })
      response.end('a'.repeat(5_000))
    }
    const secret = generateSecret(32)
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_1' } })
    const result = await postWebhook({
      url: `http://localhost:${receiver.port}/hook?x=1`,
      headers: { ...signedHeaders([secret], 'msg_loop', new Date(), body), 'x-team': 'billing' },
      body,
      timeoutMs: 10_000,
      maxBodyBytes: 1024,
      guard: { ...loopbackAllowed, allowAddresses: ['127.0.0.1', '::1'] },
    })
    expect(result.status).toBe(200)
    expect(result.headers['x-receiver']).toBe('yes')
    expect(result.body).toHaveLength(1024)
    const seen = receiver.received.at(-1)
    expect(seen?.path).toBe('/hook?x=1')
    expect(seen?.headers.host).toBe(`localhost:${receiver.port}`)
    expect(seen?.headers['x-team']).toBe('billing')
    expect(seen?.headers['content-type']).toBe('application/json')
    const headers = seen?.headers as Record<string, string>
    expect(new Webhook(secret).verify(seen?.body as string, headers)).toEqual(JSON.parse(body))
  })

  it('does not follow a redirect, to an internal address or anywhere', async () => {
    receiver.answer = (request, response) => {
      if (request.url === '/start') {
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' })
        response.end()
      } else response.writeHead(200).end()
    }
    const before = receiver.received.length
    const result = await postWebhook({
      url: `http://127.0.0.1:${receiver.port}/start`,
      headers: {},
      body: '{}',
      timeoutMs: 10_000,
      maxBodyBytes: 1024,
      guard: loopbackAllowed,
    })
    expect(result.status).toBe(302)
    expect(receiver.received.length).toBe(before + 1)
  })

  it('gives up on a receiver that does not answer in time', async () => {
    receiver.answer = () => {
      // Never answers: the delivery's timeout must end it.
    }
    const attempt = postWebhook({
      url: `http://127.0.0.1:${receiver.port}/slow`,
      headers: {},
      body: '{}',
      timeoutMs: 300,
      maxBodyBytes: 1024,
      guard: loopbackAllowed,
    })
    await expect(attempt).rejects.toMatchObject({ kind: 'timeout' })
  })

  it('reports a closed port as a network failure without the address', async () => {
    const closed = createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const attempt = postWebhook({
      url: `http://127.0.0.1:${port}/`,
      headers: {},
      body: '{}',
      timeoutMs: 10_000,
      maxBodyBytes: 1024,
      guard: loopbackAllowed,
    })
    await expect(attempt).rejects.toMatchObject({
      kind: 'network',
      message: 'connection failed (ECONNREFUSED)',
    })
  })
})
