import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { checkResponse, codeOf, type Observation } from './checks.js'
import type { Failure } from './runner.js'

/**
 * Requests only a real socket can send: Node's HTTP parser answers some before Fastify sees them
 * (431 for a head over 16 KB, 400 for a broken request line), through Fastify's client-error
 * handler. Each is written raw to the listening server and its answer checked like any other.
 */
export async function checkOverTheWire(
  port: number,
  headers: Record<string, string>,
  secrets: Iterable<string>,
): Promise<{ failures: Failure[]; sent: number; answers: string[] }> {
  const auth = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  const requests: Array<[operation: string, name: string, raw: string]> = [
    [
      'GET /projects',
      '100 KB query string',
      `GET /projects?q=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: api\r\n${auth}Connection: close\r\n\r\n`,
    ],
    [
      'GET /about',
      '20 KB header',
      `GET /about HTTP/1.1\r\nHost: api\r\nX-Pad: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
    ],
    [
      'GET /tenants/{tenantId}',
      '%ff in the path',
      `GET /tenants/%ff HTTP/1.1\r\nHost: api\r\n${auth}Connection: close\r\n\r\n`,
    ],
    [
      'GET /tenants/{tenantId}',
      'param of 5,000 chars',
      `GET /tenants/${'a'.repeat(5000)} HTTP/1.1\r\nHost: api\r\n${auth}Connection: close\r\n\r\n`,
    ],
    [
      'POST /projects',
      'invalid content-length',
      `POST /projects HTTP/1.1\r\nHost: api\r\n${auth}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}`,
    ],
    [
      'GET /about',
      'space in the request target',
      'GET /ab out HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n',
    ],
  ]
  const failures: Failure[] = []
  const answers: string[] = []
  for (const [operation, name, raw] of requests) {
    const observed = await exchange(port, raw)
    answers.push(
      `${name}: ${observed.status} ${observed.contentType || '-'} ${codeOf(observed.body)}`,
    )
    if (observed.status === 0) {
      failures.push({
        operation,
        identity: 'owner',
        variant: `wire / ${name}`,
        status: 0,
        check: 'no HTTP response',
        code: '-',
      })
      continue
    }
    for (const finding of checkResponse(operation, observed, secrets)) {
      failures.push({
        operation,
        identity: 'owner',
        variant: `wire / ${name}`,
        status: observed.status,
        ...finding,
      })
    }
  }
  return { failures, sent: requests.length, answers }
}

/** Writes one raw request, reads the answer until the server closes (5 s at most). */
function exchange(port: number, raw: string): Promise<Observation> {
  return new Promise((resolve) => {
    const started = performance.now()
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.write(raw))
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(Buffer.concat(chunks).toString('utf8'), performance.now() - started))
    }
    const timer = setTimeout(done, 5000)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', done)
    socket.on('error', done)
  })
}

function parse(text: string, ms: number): Observation {
  const [head = '', ...rest] = text.split('\r\n\r\n')
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const status = Number(statusLine.split(' ')[1] ?? 0)
  const contentType =
    headerLines
      .find((line) => line.toLowerCase().startsWith('content-type:'))
      ?.slice(13)
      .trim() ?? ''
  let body = rest.join('\r\n\r\n')
  if (headerLines.some((line) => /^transfer-encoding:\s*chunked/i.test(line))) body = unchunk(body)
  return { status: Number.isFinite(status) ? status : 0, contentType, body, ms }
}

function unchunk(body: string): string {
  let out = ''
  let rest = body
  for (;;) {
    const lineEnd = rest.indexOf('\r\n')
    if (lineEnd < 0) return out
    const size = Number.parseInt(rest.slice(0, lineEnd), 16)
    if (!size) return out
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size)
    rest = rest.slice(lineEnd + 4 + size)
  }
}
