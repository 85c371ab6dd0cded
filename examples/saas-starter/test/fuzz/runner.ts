import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import { checkResponse, TOKEN_OPERATIONS } from './checks.js'
import type { InjectClient, Response } from './client.js'
import type { Restore } from './destructive.js'
import type { Fixtures, Owner } from './fixtures.js'
import type { Operation } from './openapi.js'
import { realBody, realIds, realQuery } from './real-values.js'
import { shapeMismatch } from './response-shape.js'
import { arbitraryFor } from './schema-arbitrary.js'
import { buildVariants, type Variant } from './variants.js'

export type Identity = 'anonymous' | 'owner'

export interface Failure {
  operation: string
  identity: Identity
  variant: string
  status: number
  check: string
  code: string
  /** The server's own log line for the request, when it logged an error (5xx causes). */
  cause?: string
}

export interface RunOptions {
  seed: number
  /** Variants per operation and identity, at least. */
  minimum: number
  /** Valid bodies generated per operation and identity. */
  validSamples: number
  /** Requests one client address sends before the next takes over (per-IP limits). */
  requestsPerAddress: number
  /** The server's error log line for a request id, if any. */
  causeOf: (requestId: string) => string | undefined
}

/** Sends every variant of an operation, for each identity, and records what breaks a rule. */
export class FuzzRunner {
  readonly failures: Failure[] = []
  responses = 0
  serverErrors = 0
  /** Seconds spent on each operation (both identities, restores included). */
  readonly seconds = new Map<string, number>()
  readonly #client: InjectClient
  readonly #fixtures: Fixtures
  readonly #options: RunOptions

  constructor(client: InjectClient, fixtures: Fixtures, options: RunOptions) {
    this.#client = client
    this.#fixtures = fixtures
    this.#options = options
  }

  /** Fuzzes one operation as both identities; returns the owner (a new one if restored). */
  async fuzz(operation: Operation, owner: Owner, restore?: Restore): Promise<Owner> {
    const started = performance.now()
    let current = owner
    for (const identity of ['anonymous', 'owner'] as const) {
      const build = () => buildVariants(this.#inputFor(operation, current, identity))
      let variants = build()
      let address = this.#client.newAddress()
      let sent = 0
      for (let index = 0; index < variants.length; index++) {
        const variant = variants[index] as Variant
        const count = variant.parallel ?? 1
        if (sent + count > this.#options.requestsPerAddress) {
          address = this.#client.newAddress()
          sent = 0
        }
        sent += count
        const headers = { ...this.#identityHeaders(identity, current), ...variant.headers }
        const send = () =>
          this.#client.send({
            method: variant.method,
            url: variant.url,
            headers,
            ...(variant.payload !== undefined ? { payload: variant.payload } : {}),
            remoteAddress: address,
          })
        const responses = await Promise.all(Array.from({ length: count }, send))
        for (const response of responses) this.#record(operation, identity, variant, response)
        const succeeded = responses.find((response) => response.status < 300)
        if (restore && succeeded) {
          current = (await restore(this.#fixtures, current, succeeded)) ?? current
          variants = build()
        }
      }
    }
    this.seconds.set(operation.key, (performance.now() - started) / 1000)
    return current
  }

  #identityHeaders(identity: Identity, owner: Owner): Record<string, string> {
    return identity === 'owner' ? this.#fixtures.headers(owner) : {}
  }

  #inputFor(operation: Operation, owner: Owner, identity: Identity) {
    const seed = mixSeed(this.#options.seed, `${operation.key} ${identity}`)
    const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number, offset: number) =>
      fc.sample(arbitrary, { seed: seed + offset, numRuns })
    const validBodies = operation.body
      ? sample(arbitraryFor(operation.body), this.#options.validSamples, 1)
      : []
    const queries =
      operation.queryParams.length > 0
        ? sample(queryArbitrary(operation), this.#options.validSamples, 2)
        : []
    const real = realQuery(operation, owner)
    const noise = sample(
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.string({ maxLength: 24, unit: 'binary' }),
        {
          minKeys: 1,
          maxKeys: 3,
        },
      ),
      this.#options.minimum,
      3,
    ).map((values) => new URLSearchParams(values).toString())
    const body = realBody(operation, owner)
    return {
      operation,
      ids: realIds(operation, owner),
      validBodies,
      validQueries: real ? [real, ...queries] : queries,
      ...(body !== undefined ? { realBody: body } : {}),
      noise,
      minimum: this.#options.minimum,
    }
  }

  #record(operation: Operation, identity: Identity, variant: Variant, response: Response): void {
    this.responses++
    if (response.status >= 500) this.serverErrors++
    if (TOKEN_OPERATIONS.has(operation.key) && response.status < 300) this.#remember(response)
    const findings = checkResponse(operation.key, response, this.#fixtures.secrets)
    const mismatch = shapeMismatch(operation, response.status, response.contentType, response.body)
    if (mismatch) findings.push({ check: 'does not match its documented schema', code: mismatch })
    for (const finding of findings) {
      const cause =
        response.status >= 500 ? this.#options.causeOf(requestIdOf(response)) : undefined
      this.failures.push({
        operation: operation.key,
        identity,
        variant: `${variant.family} / ${variant.name}`,
        status: response.status,
        check: finding.check,
        code: finding.code,
        ...(cause ? { cause } : {}),
      })
    }
  }

  /** Tokens and keys handed out during the run: no other response may carry them. */
  #remember(response: Response): void {
    try {
      const body = response.json() as Record<string, unknown>
      for (const key of ['accessToken', 'refreshToken', 'key'] as const) {
        const value = body[key]
        if (typeof value === 'string') this.#fixtures.secrets.add(value)
      }
    } catch {
      // not JSON: the checks report it
    }
  }
}

function queryArbitrary(operation: Operation): fc.Arbitrary<Record<string, unknown>> {
  const model = Object.fromEntries(
    operation.queryParams.map((parameter) => [
      parameter.name,
      arbitraryFor(parameter.schema, parameter.name),
    ]),
  )
  const requiredKeys = operation.queryParams
    .filter((parameter) => parameter.required)
    .map((parameter) => parameter.name)
  return fc.record(model, { requiredKeys }) as fc.Arbitrary<Record<string, unknown>>
}

function requestIdOf(response: Response): string {
  try {
    const body = response.json() as { requestId?: unknown }
    return typeof body.requestId === 'string' ? body.requestId : ''
  } catch {
    return ''
  }
}

/** A per-operation seed: the run's seed mixed with the operation's name (FNV-1a). */
export function mixSeed(seed: number, text: string): number {
  let hash = 0x811c9dc5 ^ seed
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
