import type { LightMyRequestResponse } from 'fastify'

/**
 * What must be identical between "another tenant's id" and "an id that does not exist": status,
 * headers and body, without what differs per request (its id, the date, the rate-limit budget).
 */
export function comparable(response: LightMyRequestResponse) {
  const {
    requestId: _requestId,
    instance: _instance,
    ...body
  } = response.json<Record<string, unknown>>()
  const {
    date: _date,
    'x-request-id': _id,
    'ratelimit-remaining': _remaining,
    'ratelimit-reset': _reset,
    ...headers
  } = response.headers
  return { status: response.statusCode, headers, body }
}
