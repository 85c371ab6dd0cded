import { checkResponse } from './checks.js'
import type { InjectClient, RawRequest, Response } from './client.js'
import type { Fixtures, Owner } from './fixtures.js'
import type { Failure, Identity } from './runner.js'

interface Limit {
  name: string
  operation: string
  identity: Identity
  /** Requests sent at most before a 429 must have come. */
  within: number
  request: (index: number) => Omit<RawRequest, 'remoteAddress'>
}

/**
 * Each limiter refuses with a problem document too: sends from one client address until a 429
 * comes, then checks it. Returns the failures and the number of requests sent.
 */
export async function checkRateLimits(
  client: InjectClient,
  fixtures: Fixtures,
  owner: Owner,
  globalMax: number,
): Promise<{ failures: Failure[]; sent: number }> {
  const limits: Limit[] = [
    {
      name: "tenancy's per-IP limit of anonymous requests",
      operation: 'GET /about',
      identity: 'anonymous',
      within: 150,
      request: () => ({ method: 'GET', url: '/about' }),
    },
    {
      name: "core's global per-client limit (RATE_LIMIT_MAX)",
      operation: 'GET /projects',
      identity: 'owner',
      within: globalMax + 20,
      request: () => ({ method: 'GET', url: '/projects', headers: fixtures.headers(owner) }),
    },
    {
      name: "auth's per-IP login throttle",
      operation: 'POST /auth/login',
      identity: 'anonymous',
      within: 40,
      request: (index) => ({
        method: 'POST',
        url: '/auth/login',
        payload: { email: `nobody-${index}@initech.test`, password: 'wrong password' },
      }),
    },
  ]
  const failures: Failure[] = []
  let sent = 0
  for (const limit of limits) {
    const remoteAddress = client.newAddress()
    let refused: Response | undefined
    for (let index = 0; index < limit.within && !refused; index++) {
      const response = await client.send({ ...limit.request(index), remoteAddress })
      sent++
      if (response.status === 429) refused = response
    }
    const failure = {
      operation: limit.operation,
      identity: limit.identity,
      variant: `rate limit / ${limit.name}`,
    }
    if (!refused) {
      failures.push({
        ...failure,
        status: 0,
        check: `no 429 within ${limit.within} requests`,
        code: '-',
      })
      continue
    }
    for (const finding of checkResponse(limit.operation, refused, fixtures.secrets)) {
      failures.push({ ...failure, status: refused.status, ...finding })
    }
  }
  return { failures, sent }
}
