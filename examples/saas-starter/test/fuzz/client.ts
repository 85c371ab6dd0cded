import { randomInt } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { Observation } from './checks.js'

export interface RawRequest {
  method: string
  url: string
  headers?: Record<string, string | null | undefined>
  payload?: string | Buffer | object
  remoteAddress: string
}

export interface Response extends Observation {
  json(): unknown
}

/**
 * Sends requests through `app.inject` (no sockets), timing each and counting them. Each caller
 * (an identity working on one operation, or one fixture) gets client addresses of its own from
 * 127.<run>.x.y: the per-IP limits (global limit, anonymous tenancy limit, login throttle) then
 * count the fuzzer's traffic as many clients, and never another test file's (they use 127.0.0.1).
 */
export class InjectClient {
  requests = 0
  readonly #app: FastifyInstance
  readonly #run = randomInt(2, 255)
  #next = 0

  constructor(app: FastifyInstance) {
    this.#app = app
  }

  /** A client address no other caller of this run has used. */
  newAddress(): string {
    this.#next++
    return `127.${this.#run}.${(this.#next >> 8) & 255}.${this.#next & 255 || 1}`
  }

  async send(request: RawRequest): Promise<Response> {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (typeof value === 'string') headers[name] = value
    }
    this.requests++
    const started = performance.now()
    const response = await this.#app.inject({
      method: request.method as 'GET',
      url: request.url,
      headers,
      remoteAddress: request.remoteAddress,
      ...(request.payload !== undefined ? { payload: request.payload } : {}),
    })
    const ms = performance.now() - started
    const contentType = response.headers['content-type']
    return {
      status: response.statusCode,
      contentType: typeof contentType === 'string' ? contentType : '',
      body: response.body,
      ms,
      json: () => JSON.parse(response.body) as unknown,
    }
  }
}
