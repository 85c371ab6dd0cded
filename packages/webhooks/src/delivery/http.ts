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
  const secure = url.protocol === 'https:'
  const client = secure ? https : http
  const port = url.port ? Number(url.port) : secure ? 443 : 80
  return new Promise<PostResult>((resolve, reject) => {
    let settled = false
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
      agent: false,
    })
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new DeliveryFailure('timeout', `no response within ${options.timeoutMs} ms`, elapsed()),
        ),
      )
      request.destroy()
    }, options.timeoutMs)
    request.on('error', (error) => {
      finish(() => reject(new DeliveryFailure('network', networkMessage(error), elapsed())))
    })
    request.on('response', (response) => {
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
