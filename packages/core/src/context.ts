import { AsyncLocalStorage } from 'node:async_hooks'

/** Who is acting; auth fills it. Augment to add fields your services read. */
export interface AcmeContextUser {
  id: string
}

/** Which tenant the request works in; tenancy fills it. */
export interface AcmeContextTenant {
  id: string
}

export interface RequestContext {
  readonly requestId: string
  user: AcmeContextUser | null
  tenant: AcmeContextTenant | null
}

const storage = new AsyncLocalStorage<RequestContext>()

/** The current request's context, or undefined outside a request (jobs, startup). */
export function getRequestContext(): RequestContext | undefined {
  return storage.getStore()
}

/** Runs `work` with its own context: for jobs and scripts that act on behalf of someone. */
export function runWithContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work)
}

/**
 * @internal Continues a request's hooks inside its context (core's request hook): everything
 * the request does after this point, awaited or scheduled, sees `context`. A refusal is passed
 * on inside the context too, so the error path reads the same context as the handler would.
 */
export function enterRequestContext(
  context: RequestContext,
  done: (error?: Error) => void,
  error: Error | null,
): void {
  if (error === null) storage.run(context, done)
  else storage.run(context, done, error)
}
