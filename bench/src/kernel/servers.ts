import { acmeAuthenticated, bareWithCoreHeaders, corePublic } from './acme.js'
import { betterAuthSession } from './better-auth.js'
import { bare, fastifyJwtBearer } from './peers.js'
import type { BenchServer } from './types.js'

/** Every server of the kernel benchmark, in table order; bare Fastify is the reference. */
export const kernelServers = {
  bare: { label: 'bare Fastify 5', start: bare },
  'fastify-jwt': {
    label: 'Fastify + `@fastify/jwt`, EdDSA bearer',
    start: fastifyJwtBearer,
  },
  'better-auth': {
    label: 'Fastify + better-auth `getSession` (cookie, PostgreSQL)',
    start: () => betterAuthSession({ cookieCache: false }),
  },
  'better-auth-cached': {
    label: 'Fastify + better-auth `getSession`, cookie cache',
    start: () => betterAuthSession({ cookieCache: true }),
  },
  'bare-core-headers': {
    label: "bare Fastify sending core's response headers, fixed (reference)",
    start: bareWithCoreHeaders,
  },
  'core-no-limit': {
    label: 'acme core, public route, rate limit off',
    start: () => corePublic('off'),
  },
  core: { label: 'acme core, public route', start: () => corePublic('memory') },
  'core-redis': {
    label: 'acme core, public route, rate limit in Redis',
    start: () => corePublic('redis'),
  },
  auth: { label: 'acme core + auth, bearer', start: () => acmeAuthenticated(null) },
  rbac: {
    label: 'acme core + auth + rbac, guarded',
    start: () => acmeAuthenticated('reports:read'),
  },
} satisfies Record<string, { label: string; start: () => Promise<BenchServer> }>

export type KernelServerName = keyof typeof kernelServers
