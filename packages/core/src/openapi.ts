import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { apiKeyRule } from './api-key-rule.js'
import { accessDescription, type RouteAccessConfig } from './openapi-access.js'
import type { ResolvedCoreOptions } from './options.js'

export interface OpenApiTag {
  name: string
  description: string
}

export type OpenApiSecurityScheme =
  | { type: 'http'; scheme: 'bearer'; bearerFormat?: string; description?: string }
  | { type: 'apiKey'; in: 'header' | 'cookie'; name: string; description?: string }

/** An OpenAPI 3.1 Path Item: the requests an API sends to its consumers (`webhooks` section). */
export type OpenApiPathItem = Record<string, unknown>

/** `app.openapi`: what plugins contribute to the one OpenAPI document. */
export class OpenApiRegistry {
  readonly #tags = new Map<string, OpenApiTag>()
  readonly #securitySchemes = new Map<string, OpenApiSecurityScheme>()
  readonly #webhookSources: Array<() => Record<string, OpenApiPathItem>> = []

  addTag(tag: OpenApiTag): void {
    this.#tags.set(tag.name, tag)
  }

  addSecurityScheme(name: string, scheme: OpenApiSecurityScheme): void {
    this.#securitySchemes.set(name, scheme)
  }

  /**
   * Entries of the document's `webhooks` section (OpenAPI 3.1), by name. Read when the document
   * is generated, not now: a plugin lists what the app defines after registering it.
   */
  addWebhooks(source: () => Record<string, OpenApiPathItem>): void {
    this.#webhookSources.push(source)
  }

  get webhooks(): Record<string, OpenApiPathItem> {
    return Object.assign({}, ...this.#webhookSources.map((source) => source()))
  }

  get tags(): OpenApiTag[] {
    return [...this.#tags.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  get securitySchemes(): Record<string, OpenApiSecurityScheme> {
    return Object.fromEntries(this.#securitySchemes)
  }
}

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', description: 'Stable machine-readable error code.' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['in', 'pointer', 'message', 'reason'],
        properties: {
          in: { type: 'string', enum: ['body', 'query', 'params', 'headers'] },
          pointer: { type: 'string' },
          message: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
  },
} as const

function brandFavicon(name: string): Buffer {
  const initial = (name.trim()[0] ?? '?').toUpperCase().replace(/[<>&"']/g, '?')
  return Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
      '<rect width="32" height="32" rx="6" fill="#334155"/>' +
      `<text x="16" y="22" font-family="sans-serif" font-size="18" text-anchor="middle" fill="#fff">${initial}</text>` +
      '</svg>',
  )
}

/**
 * Registers @fastify/swagger (OpenAPI 3.1 from the zod route schemas) and the docs UI. Must run
 * before any route is added so every route is documented.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  options: ResolvedCoreOptions,
  registry: OpenApiRegistry,
): Promise<void> {
  const { docs, brand } = options
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: docs.title ?? `${brand.name} API`,
        version: docs.version,
        ...(docs.description ? { description: docs.description } : {}),
      },
      servers: [{ url: brand.baseUrl }],
    },
    transform: (document) => {
      // @fastify/swagger resolves each route's `security` against the document's schemes
      // before transformObject runs, so plugins' schemes must be there already.
      if ('openapiObject' in document && document.openapiObject) {
        const components = document.openapiObject.components ?? {}
        components.securitySchemes = { ...components.securitySchemes, ...registry.securitySchemes }
        document.openapiObject.components = components
      }
      const transformed = jsonSchemaTransform(document)
      const config = (document.route.config ?? {}) as RouteAccessConfig
      // A route may have no schema at all (only `config`): it is still documented, with its
      // auth and permissions, rather than breaking the whole document.
      const schema = (transformed.schema ?? {}) as Record<string, unknown>
      const extensions: Record<string, unknown> = {}
      if (config.auth) extensions['x-auth'] = config.auth
      const permissions = config.permission ? { all: [config.permission] } : config.permissions
      if (permissions) extensions['x-permissions'] = permissions
      if (config.tenant !== undefined) extensions['x-tenant'] = config.tenant
      const authenticated = config.auth === 'required' || config.auth === 'optional'
      const keys = apiKeyRule(document.route.config)
      if (authenticated) extensions['x-api-keys'] = keys
      // The x- fields are for tools; the interactive docs show only the description.
      const access = accessDescription(config, keys)
      if (access) {
        extensions.description =
          typeof schema.description === 'string' ? `${schema.description}\n\n${access}` : access
      }
      const schemeNames = Object.entries(registry.securitySchemes)
        .filter(([, scheme]) => keys === 'allow' || scheme.type !== 'apiKey')
        .map(([name]) => name)
      if (config.auth === 'required' && schemeNames.length > 0 && !schema.security) {
        extensions.security = schemeNames.map((name) => ({ [name]: [] }))
      }
      const response = { ...((schema.response as Record<string, unknown>) ?? {}) }
      response.default ??= {
        description: 'Error (RFC 9457 problem details)',
        content: { 'application/problem+json': { schema: problemSchema } },
      }
      return { ...transformed, schema: { ...schema, ...extensions, response } }
    },
    transformObject: (document) => {
      const object = jsonSchemaTransformObject(document) as Record<string, unknown>
      const components = (object.components as Record<string, unknown> | undefined) ?? {}
      const webhooks = registry.webhooks
      return {
        ...object,
        ...(Object.keys(webhooks).length > 0 ? { webhooks } : {}),
        tags: registry.tags,
        components: {
          ...components,
          securitySchemes: {
            ...((components.securitySchemes as Record<string, unknown>) ?? {}),
            ...registry.securitySchemes,
          },
        },
      }
    },
  })

  if (!docs.enabled) return
  // White-label: no top bar (it carries the UI vendor's logo) and a favicon from the brand.
  await app.register(swaggerUi, {
    routePrefix: docs.routePrefix,
    staticCSP: true,
    uiConfig: { validatorUrl: null, deepLinking: true, layout: 'BaseLayout' },
    theme: {
      title: `${brand.name} API`,
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          sizes: 'any',
          type: 'image/svg+xml',
          content: brandFavicon(brand.name),
        },
      ],
    },
  })
  app.get(
    `${docs.routePrefix.replace(/\/$/, '')}/openapi.json`,
    { schema: { hide: true }, config: { rateLimit: false } },
    async () => app.swagger(),
  )
}
