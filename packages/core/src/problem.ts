import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { type AcmeError, CoreErrors, isAcmeError, type ProblemFieldError } from './errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

/** RFC 9457 problem document, with our stable `code` and the request id as extensions. */
export interface ProblemDocument {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  code: string
  requestId: string
  errors?: ProblemFieldError[]
  [extension: string]: unknown
}

/** Outages are short-lived from a client's point of view: tell it when to try again. */
const RETRY_SOON = { 'retry-after': '5' }

type ValidationContext = 'body' | 'querystring' | 'params' | 'headers'

const FASTIFY_CODE_TO_ERROR: Record<string, (typeof CoreErrors)[keyof typeof CoreErrors]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: CoreErrors.MalformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: CoreErrors.EmptyJsonBody,
  FST_ERR_CTP_BODY_TOO_LARGE: CoreErrors.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: CoreErrors.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: CoreErrors.BadRequest,
  FST_ERR_NOT_FOUND: CoreErrors.RouteNotFound,
  FST_ERR_BAD_URL: CoreErrors.BadUrl,
  FST_ERR_MAX_PARAM_LENGTH: CoreErrors.UriTooLong,
}

/** Longer paths are cut in `instance`: a problem document never carries a request back whole. */
const MAX_INSTANCE_LENGTH = 512

/** Turns anything thrown during a request into an AcmeError; unknown errors become a 500. */
export function toAcmeError(error: unknown): AcmeError {
  if (isAcmeError(error)) return error
  if (hasZodFastifySchemaValidationErrors(error)) {
    const part = toPart((error as { validationContext?: ValidationContext }).validationContext)
    const errors: ProblemFieldError[] = error.validation.map((issue) => ({
      in: part,
      pointer: issue.instancePath === '/' ? '' : issue.instancePath,
      message: issue.message ?? 'is invalid',
      reason: issue.keyword,
    }))
    return new CoreErrors.ValidationFailed({ errors })
  }
  const fastifyError = error as Partial<FastifyError> | null
  const code = typeof fastifyError?.code === 'string' ? fastifyError.code : undefined
  const mapped = code ? FASTIFY_CODE_TO_ERROR[code] : undefined
  if (mapped) return new mapped({ cause: error })
  const stored = fromDatabaseRefusal(error)
  if (stored) return stored
  if (isDependencyFailure(error)) {
    return new CoreErrors.DependencyUnavailable({ cause: error, headers: RETRY_SOON })
  }
  const status = fastifyError?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500 && code?.startsWith('FST_')) {
    // Fastify's own client errors (bad content length, bad URL...) carry safe messages.
    return new CoreErrors.BadRequest({ cause: error })
  }
  return new CoreErrors.Internal({ cause: error })
}

/**
 * What PostgreSQL refuses because of the request rather than the server: a row that vanished
 * under a concurrent request (P2025) is the 404 a missing id gets, a unique clash (P2002) a 409,
 * and a value it cannot store (SQLSTATE class 22, data exception) a 400. Services map these to
 * their own errors where they can say more; this is the net that keeps them from being 500s.
 */
function fromDatabaseRefusal(error: unknown): AcmeError | null {
  const refusal = databaseRefusal(error)
  if (refusal) caughtByTheNet.add(refusal)
  return refusal
}

function databaseRefusal(error: unknown): AcmeError | null {
  if (typeof error !== 'object' || error === null) return null
  const { code, meta } = error as { code?: unknown; meta?: unknown }
  if (code === 'P2025') return new CoreErrors.NotFound({ cause: error })
  if (code === 'P2002') return new CoreErrors.Conflict({ cause: error })
  const sqlState = sqlStateOf(meta)
  if (typeof sqlState === 'string' && sqlState.startsWith('22')) {
    return new CoreErrors.UnstorableValue({ cause: error })
  }
  return null
}

/** Model queries carry it under `driverAdapterError`, raw queries (P2010) as `meta.code`. */
function sqlStateOf(meta: unknown): unknown {
  if (typeof meta !== 'object' || meta === null) return undefined
  const candidate = meta as {
    code?: unknown
    driverAdapterError?: { cause?: { originalCode?: unknown } }
  }
  return candidate.driverAdapterError?.cause?.originalCode ?? candidate.code
}

const caughtByTheNet = new WeakSet<AcmeError>()

/**
 * A 4xx the net above produced: the client is told what it did, and the log gets a warning with
 * the cause, since a route that validated its input properly would have refused it earlier.
 */
export function isCaughtByTheNet(error: AcmeError): boolean {
  return caughtByTheNet.has(error)
}

function toPart(context: ValidationContext | undefined): ProblemFieldError['in'] {
  if (context === 'querystring') return 'query'
  return context ?? 'body'
}

/** What ioredis and node-postgres say when a connection died under a command or a query. */
const LOST_CONNECTION_MESSAGES = new Set([
  'Connection is closed.',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated unexpectedly',
  'Connection terminated',
])

/**
 * Errors that mean "the database or Redis is unreachable right now": the client should retry,
 * and readiness already reports it. Everything else unexpected stays a 500.
 */
function isDependencyFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const candidate = error as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown }
  if (candidate.name === 'MaxRetriesPerRequestError') return true
  if (typeof candidate.message === 'string' && LOST_CONNECTION_MESSAGES.has(candidate.message)) {
    return true
  }
  if (
    typeof candidate.code === 'string' &&
    // P2028: an interactive transaction that could not start in time or outlived its deadline.
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'P1001',
      'P1002',
      'P1017',
      'P2024',
      'P2028',
    ].includes(candidate.code)
  ) {
    return true
  }
  if (candidate.name === 'DriverAdapterError') {
    const kind = (candidate.cause as { kind?: unknown } | undefined)?.kind
    return (
      kind === 'DatabaseNotReachable' || kind === 'SocketTimeout' || kind === 'ConnectionClosed'
    )
  }
  return candidate.cause !== undefined && candidate.cause !== error
    ? isDependencyFailure(candidate.cause)
    : false
}

export function toProblemDocument(
  error: AcmeError,
  request: FastifyRequest,
  typeBaseUrl: string,
): ProblemDocument {
  const problem: ProblemDocument = {
    ...error.extensions,
    type: `${typeBaseUrl}${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: error.title,
    status: error.statusCode,
    detail: error.detail,
    instance: instanceOf(request.url),
    code: error.code,
    requestId: request.id,
  }
  if (error.errors) problem.errors = error.errors
  return problem
}

/** The path only (query strings can carry tokens), cut to a bounded length. */
function instanceOf(url: string): string {
  const path = url.split('?', 1)[0] || '/'
  return path.length > MAX_INSTANCE_LENGTH ? path.slice(0, MAX_INSTANCE_LENGTH) : path
}

export function sendProblem(
  reply: FastifyReply,
  error: AcmeError,
  problem: ProblemDocument,
): FastifyReply {
  if (error.headers) reply.headers(error.headers)
  // A problem document is never typed by the route's response schema: bypass its serializer.
  return reply
    .code(error.statusCode)
    .type(PROBLEM_CONTENT_TYPE)
    .serializer((payload: unknown) => JSON.stringify(payload))
    .send(problem)
}
