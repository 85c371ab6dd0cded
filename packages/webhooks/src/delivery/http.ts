import http from 'node:http'
import https from 'node:https'
import { type GuardSettings, resolvePinned, SsrfRefusal } from '../ssrf/guard.js'

export interface PostResult {
  status: number
  headers: Record<string, string>
  /** The start of the response body, at most `maxBodyBytes` bytes, as text. */
  body: string
  durationMs: number
}

/** Why no response came: `refused` by the SSRF guard, `timeout`, or a `network` error. */
export class DeliveryFailure extends Error {
  constructor(
    readonly kind: 'refused' | 'timeout' | 'network',
    message: string,
    readonly durationMs: number,
  ) {
    super(message)
    this.name = 'DeliveryFailure'
  }
}

export interface PostOptions {
  url: string
  headers: Record<string, string>
  body: string
  /** The whole exchange, connection included; slower is a failure. */
  timeoutMs: number
  maxBodyBytes: number
  guard: GuardSettings
}

/**
 * Connections are kept open between deliveries to the same checked address (a connection costs
 * more than a local delivery). The pool is keyed by the address the guard just checked, never
 * by name, so a reused connection goes where this attempt's check allowed. An idle connection
 * is closed after 4 s, before the 5 s after which Node's servers (and most others later) close
 * theirs; one the receiver closed anyway is retried once on a new connection (nothing reached
 * the receiver, so no duplicate).
 */
const KEEP_ALIVE = { keepAlive: true, timeout: 4_000, scheduling: 'lifo' } as const
const agents = { http: new http.Agent(KEEP_ALIVE), https: new https.Agent(KEEP_ALIVE) }

/**
 * POSTs one delivery. The host is resolved and checked here, at connect time, and the socket
 * goes to the checked address (TLS still verifies the certificate against the host name).
 * Redirects are answers like any other: a 3xx is returned, never followed.
 */
export async function postWebhook(options: PostOptions): Promise<PostResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const url = new URL(options.url)
  let pinned: { address: string; family: 4 | 6 }
  try {
    pinned = await resolvePinned(url, options.guard)
  } catch (error) {
    const reason = error instanceof SsrfRefusal ? error.reason : 'the host could not be checked'
    throw new DeliveryFailure('refused', reason, elapsed())
  }
  try {
    return await send(url, pinned, options, started, false)
  } catch (error) {
    if (!(error instanceof StaleConnection)) throw error
    return await send(url, pinned, options, started, true)
  }
}

/** A kept-open connection the receiver had closed before our request reached it. */
class StaleConnection extends Error {}

function send(
  url: URL,
  pinned: { address: string; family: 4 | 6 },
  options: PostOptions,
  started: number,
  fresh: boolean,
): Promise<PostResult> {
  const elapsed = () => Math.round(performance.now() - started)
  const secure = url.protocol === 'https:'
  const client = secure ? https : http
  const port = url.port ? Number(url.port) : secure ? 443 : 80
  const remainingMs = Math.max(1, options.timeoutMs - (performance.now() - started))
  return new Promise<PostResult>((resolve, reject) => {
    let settled = false
    let responded = false
    const finish = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      outcome()
    }
    const request = client.request({
      method: 'POST',
      host: pinned.address,
      family: pinned.family,
      port,
      path: `${url.pathname}${url.search}`,
      // The certificate is checked against the name the tenant registered, not the address.
      ...(secure ? { servername: url.hostname.replace(/^\[(.*)\]$/, '$1') } : {}),
      headers: {
        ...options.headers,
        host: url.host,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(options.body)),
        'user-agent': 'webhooks/1.0',
      },
      agent: fresh ? false : secure ? agents.https : agents.http,
    })
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new DeliveryFailure('timeout', `no response within ${options.timeoutMs} ms`, elapsed()),
        ),
      )
      request.destroy()
    }, remainingMs)
    request.on('error', (error: Error & { code?: string }) => {
      if (
        request.reusedSocket &&
        !responded &&
        (error.code === 'ECONNRESET' || error.code === 'EPIPE')
      ) {
        finish(() => reject(new StaleConnection()))
        return
      }
      finish(() => reject(new DeliveryFailure('network', networkMessage(error), elapsed())))
    })
    request.on('response', (response) => {
      responded = true
      const chunks: Buffer[] = []
      let kept = 0
      response.on('data', (chunk: Buffer) => {
        if (kept >= options.maxBodyBytes) return
        const part = chunk.subarray(0, options.maxBodyBytes - kept)
        chunks.push(part)
        kept += part.length
      })
      const done = () =>
        finish(() =>
          resolve({
            status: response.statusCode ?? 0,
            headers: flatHeaders(response.headers),
            body: Buffer.concat(chunks).toString('utf8'),
            durationMs: elapsed(),
          }),
        )
      response.on('end', done)
      // A receiver that sends its status and then hangs or resets: the status is what counts.
      response.on('error', done)
      response.on('aborted', done)
    })
    request.end(options.body)
  })
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    flat[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}

/** The error's code only (`ECONNREFUSED`, ...): messages may carry addresses of the network. */
function networkMessage(error: Error & { code?: string }): string {
  return error.code ? `connection failed (${error.code})` : 'connection failed'
}
