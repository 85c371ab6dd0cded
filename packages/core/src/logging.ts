import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyServerOptions } from 'fastify'
import { clientErrorHandler, frameworkErrors } from './framework-errors.js'

/** Paths pino blanks in every log line: credentials never reach a log. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  '*.secret',
  'headers.authorization',
  'headers.cookie',
  'body.password',
  'body.token',
] as const

const SENSITIVE_QUERY = /([?&](?:token|code|key|secret|password|signature|access_token)=)[^&#]*/gi

/** Strips the values of token-like query parameters from a URL before it is logged. */
export function redactUrl(url: string): string {
  // Most URLs have no query: no regex pass and no new string for each logged request.
  if (url.indexOf('?') === -1) return url
  return url.replace(SENSITIVE_QUERY, '$1[REDACTED]')
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Trusts an incoming `x-request-id` only when it cannot inject anything into logs. */
export function generateRequestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

export interface LoggerSettings {
  level?: string
  /** Extra redaction paths, added to the defaults. */
  redact?: string[]
}

/** Pino options with redaction and a request serializer that never logs headers or secrets. */
export function loggerOptions(settings: LoggerSettings = {}) {
  return {
    level: settings.level ?? 'info',
    redact: { paths: [...REDACTED_PATHS, ...(settings.redact ?? [])], censor: '[REDACTED]' },
    serializers: {
      req(request: { method: string; url: string; id: string; ip?: string }) {
        return {
          id: request.id,
          method: request.method,
          url: redactUrl(request.url),
          ip: request.ip,
        }
      },
    },
  }
}

export interface ServerSettings extends LoggerSettings {
  /** `false` turns logging off (tests); a stream captures lines (tests of redaction). */
  logger?: boolean | { stream: NodeJS.WritableStream }
  bodyLimit?: number
  trustProxy?: boolean | string | string[]
  /**
   * Fastify's two lines per request ("incoming request", "request completed"). Default true;
   * false leaves only what the app and core log (errors, refusals), for a deployment whose
   * proxy already logs every request: formatting two lines is a measurable share of a cheap
   * request (docs/benchmarks.md).
   */
  requestLogging?: boolean
}

/**
 * Fastify's option that drops its per-request lines: a LogController where Fastify has one
 * (5.12+, which deprecates the top-level flag and warns on every server built with it), the
 * flag on earlier 5.x releases.
 */
function withoutRequestLines(): Partial<FastifyServerOptions> {
  const Controller = (Fastify as unknown as { LogController?: LogControllerClass }).LogController
  return Controller
    ? ({
        logController: new Controller({ disableRequestLogging: true }),
      } as Partial<FastifyServerOptions>)
    : { disableRequestLogging: true }
}

type LogControllerClass = new (options: { disableRequestLogging: boolean }) => object

/**
 * Fastify constructor options that belong with core: they cannot be set by a plugin after the
 * server exists (logger, body limit, poisoning, request ids, the router's and HTTP parser's own
 * errors). Spread them into `Fastify()`.
 */
export function serverOptions(settings: ServerSettings = {}): FastifyServerOptions {
  const logger =
    settings.logger === false
      ? false
      : typeof settings.logger === 'object'
        ? { ...loggerOptions(settings), stream: settings.logger.stream }
        : loggerOptions(settings)
  return {
    logger,
    bodyLimit: settings.bodyLimit ?? 1_048_576,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: generateRequestId,
    trustProxy: settings.trustProxy ?? false,
    ...(settings.requestLogging === false ? withoutRequestLines() : {}),
    routerOptions: { maxParamLength: 200 },
    // Errors Fastify and Node answer before any hook runs: problem+json from the catalogue too.
    frameworkErrors,
    clientErrorHandler,
  }
}
