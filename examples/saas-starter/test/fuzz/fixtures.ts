import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { InjectClient, Response } from './client.js'

export const PASSWORD = 'correct horse battery staple'

/** A tenant owner with one real row of everything a path parameter can name. */
export interface Owner {
  label: string
  email: string
  userId: string
  access: string
  refresh: string
  tenantId: string
  /** A second user, member of the tenant (`userId` path parameters). */
  memberId: string
  projectId: string
  userKeyId: string
  tenantKeyId: string
  invitationId: string
  roleId: string
  /** A webhook endpoint of the tenant, disabled (nothing is delivered from a test run). */
  endpointId: string
  /** Another live session of the owner (`sessionId` path parameters). */
  otherSessionId: string
  /** An uploaded file of the tenant (`fileId` path parameters). */
  fileId: string
}

/** Builds owners and their rows through the API, as a client would; every secret is recorded. */
export class Fixtures {
  readonly secrets = new Set<string>()
  readonly #app: FastifyInstance
  readonly #client: InjectClient
  /**
   * Part of every address: Redis (and its login throttle, which counts per address) outlives the
   * run's database, so a replay must not meet the accounts of the run before.
   */
  readonly #run = randomBytes(4).toString('hex')
  #count = 0

  constructor(app: FastifyInstance, client: InjectClient) {
    this.#app = app
    this.#client = client
  }

  /**
   * A new owner with a tenant (Enterprise plan) and, unless `accountOnly`, one row of everything
   * a path parameter names. `accountOnly` is for operations with no path parameter, restored
   * many times over (password change): half the password hashing of a full owner.
   */
  async owner(label: string, options: { accountOnly?: boolean } = {}): Promise<Owner> {
    const n = ++this.#count
    const email = `fuzz-owner-${this.#run}-${n}@initech.test`
    await this.register(email)
    const first = await this.login(email)
    const owner: Owner = {
      label,
      email,
      userId: first.userId,
      access: first.access,
      refresh: first.refresh,
      tenantId: '',
      memberId: '',
      projectId: '',
      userKeyId: '',
      tenantKeyId: '',
      invitationId: '',
      roleId: '',
      endpointId: '',
      otherSessionId: '',
      fileId: '',
    }
    await this.newTenant(owner)
    if (options.accountOnly) return owner
    await this.newOtherSession(owner)
    const memberEmail = `fuzz-member-${this.#run}-${n}@initech.test`
    await this.register(memberEmail)
    owner.memberId = (await this.login(memberEmail)).userId
    await this.addMember(owner)
    const project = await this.call(owner, 'POST', '/projects', { name: 'Rocket' }, 201)
    owner.projectId = (project.json() as { id: string }).id
    await this.newUserKey(owner)
    await this.newTenantKey(owner)
    await this.newInvitation(owner)
    await this.newRole(owner)
    await this.newEndpoint(owner)
    await this.newFile(owner)
    return owner
  }

  headers(owner: Owner): Record<string, string> {
    return { authorization: `Bearer ${owner.access}`, 'x-tenant-id': owner.tenantId }
  }

  async register(email: string): Promise<void> {
    await this.expect(
      { method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } },
      202,
    )
  }

  async login(email: string): Promise<{ access: string; refresh: string; userId: string }> {
    const response = await this.expect(
      { method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } },
      200,
    )
    const body = response.json() as {
      accessToken: string
      refreshToken: string
      user: { id: string }
    }
    this.secrets.add(body.accessToken)
    this.secrets.add(body.refreshToken)
    return { access: body.accessToken, refresh: body.refreshToken, userId: body.user.id }
  }

  /** Logs the owner in again (a new current session), after an operation ended the session. */
  async relogin(owner: Owner): Promise<void> {
    const session = await this.login(owner.email)
    owner.access = session.access
    owner.refresh = session.refresh
  }

  /** Whether the owner's access token still works (its session was not ended). */
  async signedIn(owner: Owner): Promise<boolean> {
    const response = await this.#client.send({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${owner.access}` },
      remoteAddress: this.#client.newAddress(),
    })
    return response.status === 200
  }

  /** A fresh other session, after an operation ended the previous one. */
  async newOtherSession(owner: Owner): Promise<void> {
    owner.otherSessionId = await this.sessionOf((await this.login(owner.email)).access)
  }

  async newTenant(owner: Owner): Promise<void> {
    // Without the tenant header: the owner's previous tenant may be the one just deleted.
    const created = await this.expect(
      {
        method: 'POST',
        url: '/tenants',
        payload: { name: `Fuzz ${owner.label}` },
        headers: { authorization: `Bearer ${owner.access}` },
      },
      201,
    )
    owner.tenantId = (created.json() as { id: string }).id
    // The Starter plan allows 100 requests a minute per tenant: the fuzzer sends thousands.
    await this.#app.tenancy.tenants.setPlan(owner.tenantId, 'enterprise')
  }

  async addMember(owner: Owner): Promise<void> {
    await this.#app.tenancy.tenants.addMember(owner.tenantId, owner.memberId, ['member'])
  }

  async newUserKey(owner: Owner): Promise<void> {
    const created = await this.call(owner, 'POST', '/auth/api-keys', { name: 'fuzz' }, 201)
    const body = created.json() as { key: string; apiKey: { id: string } }
    this.secrets.add(body.key)
    owner.userKeyId = body.apiKey.id
  }

  async newTenantKey(owner: Owner): Promise<void> {
    const url = `/tenants/${owner.tenantId}/api-keys`
    const created = await this.call(owner, 'POST', url, { name: 'fuzz' }, 201)
    const body = created.json() as { key: string; id: string }
    this.secrets.add(body.key)
    owner.tenantKeyId = body.id
  }

  async newInvitation(owner: Owner): Promise<void> {
    const url = `/tenants/${owner.tenantId}/invitations`
    const email = `invitee-${this.#run}-${++this.#count}@initech.test`
    const created = await this.call(owner, 'POST', url, { email, roles: ['member'] }, 201)
    owner.invitationId = (created.json() as { id: string }).id
  }

  async newRole(owner: Owner): Promise<void> {
    const name = `fuzz-role-${++this.#count}`
    const body = { name, permissions: ['projects:read'] }
    const created = await this.call(owner, 'POST', '/rbac/roles', body, 201)
    owner.roleId = (created.json() as { id: string }).id
  }

  async newEndpoint(owner: Owner): Promise<void> {
    const url = `/tenants/${owner.tenantId}/webhooks/endpoints`
    // A public address literal (no DNS lookup), disabled so no delivery is ever attempted.
    const body = { url: 'https://1.1.1.1/acme-hook', enabled: false }
    const created = await this.call(owner, 'POST', url, body, 201)
    const endpoint = created.json() as { id: string; secret: string }
    this.secrets.add(endpoint.secret)
    owner.endpointId = endpoint.id
  }

  async newFile(owner: Owner): Promise<void> {
    const boundary = `fuzz${randomBytes(6).toString('hex')}`
    const payload = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="rows.csv"\r\n` +
        `Content-Type: text/csv\r\n\r\nname,size\r\nRocket,3\r\n\r\n--${boundary}--\r\n`,
    )
    const created = await this.expect(
      {
        method: 'POST',
        url: `/tenants/${owner.tenantId}/files`,
        payload,
        headers: {
          ...this.headers(owner),
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
      },
      201,
    )
    owner.fileId = (created.json() as { items: Array<{ id: string }> }).items[0]?.id ?? ''
  }

  /** The id of the session an access token belongs to. */
  async sessionOf(access: string): Promise<string> {
    const response = await this.expect(
      { method: 'GET', url: '/auth/sessions', headers: { authorization: `Bearer ${access}` } },
      200,
    )
    const { items } = response.json() as { items: Array<{ id: string; current: boolean }> }
    const current = items.find((item) => item.current)
    if (!current) throw new Error('fixture: GET /auth/sessions lists no current session')
    return current.id
  }

  private async call(
    owner: Owner,
    method: string,
    url: string,
    payload: object,
    status: number,
  ): Promise<Response> {
    return this.expect({ method, url, payload, headers: this.headers(owner) }, status)
  }

  private async expect(
    request: {
      method: string
      url: string
      payload?: object | Buffer
      headers?: Record<string, string>
    },
    status: number,
  ): Promise<Response> {
    const response = await this.#client.send({
      ...request,
      remoteAddress: this.#client.newAddress(),
    })
    if (response.status !== status) {
      throw new Error(
        `fixture ${request.method} ${request.url}: expected ${status}, got ${response.status} ${response.body}`,
      )
    }
    return response
  }
}
