import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { type AcmeError, CoreErrors } from './errors.js'
import { PROBLEM_CONTENT_TYPE, sendProblem, toAcmeError, toProblemDocument } from './problem.js'

/** Where problem `type` URLs point before core has registered (no brand known yet). */
const FALLBACK_TYPE_BASE = 'about:blank#'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A URI for this occurrence (RFC 9457 `instance`); a caller's own request id is kept readable. */
function occurrence(requestId: string): string {
  return UUID.test(requestId) ? `urn:uuid:${requestId}` : `urn:request:${requestId}`
}

function problemTypeBase(request: FastifyRequest): string {
  const server = request.server
  return server.hasDecorator('brand') ? `${server.brand.baseUrl}/problems/` : FALLBACK_TYPE_BASE
}

/**
 * Fastify's router refuses some URLs before any route, hook or error handler runs (a bad
 * percent-encoding, a path parameter over `maxParamLength`). Its default answer is its own JSON
 * with an `FST_` code that echoes the URL; this renders the catalogue's problem instead.
 */
export function frameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const acmeError = toAcmeError(error)
  request.log.info({ code: acmeError.code, status: acmeError.statusCode }, 'request refused')
  // No route context, so none of core's hooks ran: set what they would have.
  reply.header('x-request-id', request.id)
  const problem = toProblemDocument(acmeError, request, problemTypeBase(request))
  // The URL is what was refused: the occurrence is named by the request id, not by echoing it.
  problem.instance = occurrence(request.id)
  sendProblem(reply, acmeError, problem)
}

type ConnectionError = Error & { code?: string }

function clientErrorFor(error: ConnectionError): AcmeError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new CoreErrors.RequestTimeout()
  if (error.code === 'HPE_HEADER_OVERFLOW') return new CoreErrors.HeadersTooLarge()
  return new CoreErrors.BadRequest({ detail: 'The request could not be parsed as HTTP.' })
}

/**
 * Node's HTTP parser refuses a request it cannot read (a 100 KB query string overflows the header
 * limit) before Fastify sees it, so there is no request or reply: write a problem document
 * straight to the socket. No brand is reachable here, so `type` is `about:blank`.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const acmeError = clientErrorFor(error)
  const requestId = randomUUID()
  const body = JSON.stringify({
    type: 'about:blank',
    title: acmeError.title,
    status: acmeError.statusCode,
    detail: acmeError.detail,
    instance: occurrence(requestId),
    code: acmeError.code,
    requestId,
  })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${acmeError.statusCode} ${acmeError.title}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    )
  }
  socket.destroy()
}
