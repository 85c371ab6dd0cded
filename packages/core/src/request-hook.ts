import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify'
import { enterRequestContext, type RequestContext } from './context.js'
import type { ClientLimit, LimitVerdict } from './rate-limit/client-limit.js'
import type { HeadersOf } from './security-routes.js'

export type LimitOf = (request: FastifyRequest) => ClientLimit | null

export interface RequestHookSettings {
  /** The security headers a request's response gets, computed once at startup; null when off. */
  headersOf: HeadersOf | null
  /** The limit a request runs under (null: none); null to leave the limit to a later hook. */
  limitOf: LimitOf | null
}

/**
 * Core's per-request work, in one callback-style `onRequest` hook on the root instance, added
 * before any plugin registers, so it runs first for every route and for 404s: the response's
 * security headers and `x-request-id` (here rather than in `onSend`: no second hook and no
 * promise, and Fastify keeps them on error responses), the request context, then the global
 * per-client rate limit, so a flood of forged credentials is refused before any plugin looks at
 * one. Every hook is a pass through Fastify's hook runner on every request: this is one, and a
 * limit counted in memory decides without a promise or a closure.
 */
export function installRequestHook(app: FastifyInstance, settings: RequestHookSettings): void {
  const { headersOf, limitOf } = settings

  app.addHook(
    'onRequest',
    function acmeRequest(
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
    ) {
      if (headersOf !== null) {
        const { names, values } = headersOf(request)
        for (let i = 0; i < names.length; i++) reply.header(names[i] as string, values[i])
      }
      reply.header('x-request-id', request.id)
      const context: RequestContext = { requestId: request.id, user: null, tenant: null }
      const limit = limitOf === null ? null : limitOf(request)
      const verdict = limit === null ? null : limit.check(request, reply)
      if (verdict instanceof Promise) continueAfter(verdict, context, done)
      else enterRequestContext(context, done, verdict)
    },
  )
}

/**
 * The rate limit alone, for an app with CORS: @fastify/cors answers preflights from its own
 * hook, which must run after the headers and before the limit, as it did before.
 */
export function installLimitHook(app: FastifyInstance, limitOf: LimitOf): void {
  app.addHook(
    'onRequest',
    function acmeRateLimit(
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
    ) {
      const limit = limitOf(request)
      const verdict = limit === null ? null : limit.check(request, reply)
      if (verdict instanceof Promise) verdict.then((refusal) => done(refusal ?? undefined), done)
      else done(verdict ?? undefined)
    },
  )
}

function continueAfter(
  verdict: Promise<LimitVerdict>,
  context: RequestContext,
  done: HookHandlerDoneFunction,
): void {
  verdict.then(
    (refusal) => enterRequestContext(context, done, refusal),
    (error: Error) => enterRequestContext(context, done, error),
  )
}
