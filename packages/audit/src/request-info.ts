import { getRequestContext } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AuditActor } from './types.js'

type Context = NonNullable<ReturnType<typeof getRequestContext>>

/** Where an entry was made from: filled from the request, never from the caller's input. */
export interface Origin {
  actor: AuditActor
  tenantId: string | null
  ip: string | null
  userAgent: string | null
  requestId: string | null
}

const MAX_USER_AGENT = 512

/**
 * The request behind each request context, so `record` and event subscribers (which get only
 * the context, through AsyncLocalStorage) reach its caller, address and user agent. Weak: the
 * entry goes with the request.
 */
export class RequestDirectory {
  readonly #requests = new WeakMap<Context, FastifyRequest>()

  install(app: FastifyInstance): void {
    // Core's hook (registered first) has entered the request's context by now.
    app.addHook('onRequest', (request, _reply, done) => {
      const context = getRequestContext()
      if (context) this.#requests.set(context, request)
      done()
    })
  }

  current(): FastifyRequest | null {
    const context = getRequestContext()
    return context ? (this.#requests.get(context) ?? null) : null
  }
}

/** The caller of a request: a user (with an impersonating admin), an API key and its creator. */
export function actorOf(request: FastifyRequest): AuditActor {
  const principal = request.principal
  if (!principal) return { type: 'anonymous', id: null }
  if (principal.type === 'apiKey') {
    return { type: 'api_key', id: principal.keyId, creatorId: principal.userId }
  }
  const impersonatorId = (principal as { impersonatorId?: unknown }).impersonatorId
  return {
    type: 'user',
    id: principal.userId,
    sessionId: principal.sessionId,
    ...(typeof impersonatorId === 'string' ? { impersonatorId } : {}),
  }
}

/** The request's origin, or a system origin outside a request. */
export function originOf(request: FastifyRequest | null): Origin {
  const context = getRequestContext()
  if (!request) {
    return {
      actor: { type: 'system', id: 'app' },
      tenantId: context?.tenant?.id ?? null,
      ip: null,
      userAgent: null,
      requestId: context?.requestId ?? null,
    }
  }
  const agent = request.headers['user-agent']
  return {
    actor: actorOf(request),
    tenantId: (request as { tenant?: { id: string } | null }).tenant?.id ?? null,
    ip: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null,
    requestId: request.id,
  }
}
