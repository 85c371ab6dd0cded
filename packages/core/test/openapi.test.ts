import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { accessDescription } from '../src/openapi-access.js'
import { buildTestApp, type TestApp } from './support/app.js'

// What a tenancy plugin declares; core documents it without knowing the plugin.
declare module 'fastify' {
  interface FastifyContextConfig {
    tenant?: 'required' | 'optional' | false
  }
}

function routes(app: FastifyInstance) {
  app.openapi.addTag({ name: 'projects', description: 'Projects of a tenant.' })
  // Read when the document is generated: an entry added after this call is listed too.
  const sent: Record<string, Record<string, unknown>> = {}
  app.openapi.addWebhooks(() => sent)
  sent['project.created'] = {
    post: {
      summary: 'A project was created',
      requestBody: {
        content: {
          'application/json': {
            schema: { type: 'object', properties: { id: { type: 'string' } } },
          },
        },
      },
      responses: { '200': { description: 'Received.' } },
    },
  }
  app.openapi.addSecurityScheme('bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  })
  app.withTypeProvider<ZodTypeProvider>().post(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'Create a project',
        description: 'Creates a project in the active tenant.',
        body: z.object({ name: z.string().min(1).max(100) }),
        response: { 201: z.object({ id: z.uuid(), name: z.string() }) },
      },
      config: { auth: 'required', permission: 'projects:create', tenant: 'required' },
    },
    async (_request, reply) => reply.code(201).send({ id: crypto.randomUUID(), name: 'x' }),
  )
}

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({}, routes)
})
afterAll(async () => {
  await t.app.close()
})

describe('OpenAPI document', () => {
  it('is served at /docs/openapi.json as a valid OpenAPI 3.1 document', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })
    expect(response.statusCode).toBe(200)
    const document = response.json()
    expect(document.openapi).toBe('3.1.0')
    expect(document.info.title).toBe('Initech API')
    const result = await new Validator().validate(document)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('lists what plugins send in the `webhooks` section, read when it is generated', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    expect(Object.keys(document.webhooks)).toEqual(['project.created'])
    expect(document.webhooks['project.created'].post.summary).toBe('A project was created')
  })

  it("shows a route's zod schemas, tags, auth mode and permission", async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    const operation = document.paths['/projects'].post
    expect(operation.tags).toEqual(['projects'])
    expect(operation['x-auth']).toBe('required')
    expect(operation['x-permissions']).toEqual({ all: ['projects:create'] })
    expect(operation.security).toEqual([{ bearerAuth: [] }])
    const body = operation.requestBody.content['application/json'].schema
    expect(body.properties.name).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 })
    expect(operation.responses['201']).toBeDefined()
    expect(operation.responses.default.content['application/problem+json']).toBeDefined()
    expect(document.tags).toEqual(
      expect.arrayContaining([
        { name: 'projects', description: 'Projects of a tenant.' },
        { name: 'health', description: expect.any(String) },
      ]),
    )
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ scheme: 'bearer' })
  })

  it('says who may call an operation in its description, which the interactive docs show', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    const operation = document.paths['/projects'].post
    expect(operation.description).toBe(
      [
        'Creates a project in the active tenant.',
        '',
        '**Access**',
        '',
        '- Sign-in: required.',
        '- Tenant: required; the request names the tenant it acts in.',
        '- Permission: `projects:create`.',
        '- API keys: accepted, within their scopes.',
      ].join('\n'),
    )
    expect(operation['x-tenant']).toBe('required')
  })

  it('documents the health routes and hides its own docs routes', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/health/live', '/health/ready', '/projects']),
    )
    expect(Object.keys(document.paths).some((path) => path.startsWith('/docs'))).toBe(false)
  })

  it('serves the interactive docs at /docs with the brand and no vendor name', async () => {
    const redirect = await t.app.inject({ method: 'GET', url: '/docs' })
    const page =
      redirect.statusCode === 302
        ? await t.app.inject({ method: 'GET', url: redirect.headers.location as string })
        : redirect
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.body).toContain('Initech API')
    expect(page.body.toLowerCase()).not.toContain('acme')
    expect(page.body.toLowerCase()).not.toContain('fastify')
    const initializer = await t.app.inject({
      method: 'GET',
      url: '/docs/static/swagger-initializer.js',
    })
    expect(initializer.body).toContain('BaseLayout')
  })
})

describe('OpenAPI document with routes registered without a schema', () => {
  let bare: TestApp
  beforeAll(async () => {
    bare = await buildTestApp({}, (app) => {
      app.openapi.addSecurityScheme('bearerAuth', { type: 'http', scheme: 'bearer' })
      app.get(
        '/reports/:id',
        { config: { auth: 'required', permissions: { any: ['reports:read', 'reports:admin'] } } },
        async () => ({ ok: true }),
      )
      app.post('/ping', async () => ({ ok: true }))
    })
  })
  afterAll(async () => {
    await bare.app.close()
  })

  it('documents them, with their auth mode and permissions, in a valid document', async () => {
    const response = await bare.app.inject({ method: 'GET', url: '/docs/openapi.json' })
    expect(response.statusCode).toBe(200)
    const document = response.json()
    const result = await new Validator().validate(document)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)

    const report = document.paths['/reports/{id}'].get
    expect(report['x-auth']).toBe('required')
    expect(report['x-permissions']).toEqual({ any: ['reports:read', 'reports:admin'] })
    expect(report.security).toEqual([{ bearerAuth: [] }])
    expect(report.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path' })])
    expect(report.responses.default.content['application/problem+json']).toBeDefined()
    expect(report.description).toContain('- Sign-in: required.')
    expect(report.description).toContain(
      '- Permissions: any one of `reports:read`, `reports:admin`.',
    )
    const ping = document.paths['/ping'].post
    expect(ping.description).toBeUndefined()
    expect(ping['x-auth']).toBeUndefined()
    expect(ping.security).toBeUndefined()
    expect(ping.responses.default).toBeDefined()
  })
})

describe("an operation's access paragraph", () => {
  it('names every permission a route needs, all or any', () => {
    const text = accessDescription(
      { auth: 'required', permissions: { all: ['a:read', 'b:read'], any: ['c:write', 'd:write'] } },
      'allow',
    )
    expect(text).toContain('- Permissions: all of `a:read`, `b:read`.')
    expect(text).toContain('- Permissions: any one of `c:write`, `d:write`.')
  })

  it('says when a route needs no permission, no tenant, or no sign-in', () => {
    const own = accessDescription({ auth: 'required', permission: false, tenant: false }, 'deny')
    expect(own).toContain('- Permission: none; the caller acts on their own account.')
    expect(own).toContain('- Tenant: none; the route is not tenant-scoped.')
    expect(own).toContain('- API keys: refused (403); sign in as a user.')
    expect(accessDescription({ auth: 'public' }, 'deny')).toBe(
      '**Access**\n\n- Sign-in: not needed.',
    )
  })

  it('adds nothing to a route that declares nothing', () => {
    expect(accessDescription({}, 'deny')).toBeNull()
  })
})
