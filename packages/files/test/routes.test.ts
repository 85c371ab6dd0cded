import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createFilesApp,
  type FilesTestApp,
  multipart,
  ownerOfNewTenant,
  PNG,
  signUp,
} from './support/app.js'

describe('the file routes', () => {
  let t: FilesTestApp
  let alice: Awaited<ReturnType<typeof ownerOfNewTenant>>
  let bob: Awaited<ReturnType<typeof signUp>>
  let vera: Awaited<ReturnType<typeof signUp>>
  let mallory: Awaited<ReturnType<typeof ownerOfNewTenant>>

  beforeAll(async () => {
    t = await createFilesApp()
    alice = await ownerOfNewTenant(t, 'alice@example.com', 'Acme A')
    mallory = await ownerOfNewTenant(t, 'mallory@example.com', 'Other B')
    bob = await signUp(t, 'bob@example.com')
    vera = await signUp(t, 'vera@example.com')
    await t.app.tenancy.tenants.addMember(alice.tenantId, bob.userId, ['member'])
    await t.app.tenancy.tenants.addMember(alice.tenantId, vera.userId, ['viewer'])
  })
  afterAll(async () => t?.close())

  const uploadAs = async (
    headers: Record<string, string>,
    name: string,
    tenantId = alice.tenantId,
  ) => {
    const body = multipart([{ name, content: PNG }])
    return t.app.inject({
      method: 'POST',
      url: `/tenants/${tenantId}/files`,
      headers: { ...headers, ...body.headers },
      payload: body.payload,
    })
  }
  const call = (method: 'GET' | 'DELETE' | 'POST', url: string, headers: Record<string, string>) =>
    t.app.inject({ method, url, headers })

  it('members upload their own files; viewers read but may not upload', async () => {
    expect((await uploadAs(alice.headers, 'alice.png')).statusCode).toBe(201)
    expect((await uploadAs(bearer(bob.token), 'bob.png')).statusCode).toBe(201)
    const denied = await uploadAs(bearer(vera.token), 'vera.png')
    expect(denied.statusCode).toBe(403)
    const listed = await call('GET', `/tenants/${alice.tenantId}/files`, bearer(vera.token))
    expect(listed.statusCode).toBe(200)
    expect(
      listed
        .json()
        .items.map((file: { name: string }) => file.name)
        .sort(),
    ).toEqual(['alice.png', 'bob.png'])
  })

  it('files:write:own deletes only the caller’s own files; admins delete anyone’s', async () => {
    const aliceFile = (await uploadAs(alice.headers, 'keep.png')).json().items[0]
    const bobFile = (await uploadAs(bearer(bob.token), 'mine.png')).json().items[0]
    const notHis = await call(
      'DELETE',
      `/tenants/${alice.tenantId}/files/${aliceFile.id}`,
      bearer(bob.token),
    )
    expect(notHis.statusCode).toBe(404)
    const his = await call(
      'DELETE',
      `/tenants/${alice.tenantId}/files/${bobFile.id}`,
      bearer(bob.token),
    )
    expect(his.statusCode).toBe(204)
    const byAdmin = await call(
      'DELETE',
      `/tenants/${alice.tenantId}/files/${aliceFile.id}`,
      alice.headers,
    )
    expect(byAdmin.statusCode).toBe(204)
    const again = await call(
      'DELETE',
      `/tenants/${alice.tenantId}/files/${aliceFile.id}`,
      alice.headers,
    )
    expect(again.statusCode).toBe(404)
  })

  it('never shows a file of another tenant: the same 404 as an unknown id', async () => {
    const theirs = (await uploadAs(mallory.headers, 'secret.png', mallory.tenantId)).json().items[0]
    for (const path of ['', '/content']) {
      const response = await call(
        'GET',
        `/tenants/${alice.tenantId}/files/${theirs.id}${path}`,
        alice.headers,
      )
      expect(response.statusCode).toBe(404)
      expect(response.json().code).toBe('ACME_FILES_NOT_FOUND')
    }
    const intoTheirTenant = await call(
      'GET',
      `/tenants/${mallory.tenantId}/files/${theirs.id}`,
      alice.headers,
    )
    expect(intoTheirTenant.statusCode).toBe(404)
    const deleted = await call(
      'DELETE',
      `/tenants/${alice.tenantId}/files/${theirs.id}`,
      alice.headers,
    )
    expect(deleted.statusCode).toBe(404)
  })

  it('files:read:own reads only the caller’s own files', async () => {
    const role = await t.app.inject({
      method: 'POST',
      url: '/rbac/roles',
      headers: { ...alice.headers, 'x-tenant-id': alice.tenantId },
      payload: { name: 'contractor', permissions: ['files:read:own', 'files:write:own'] },
    })
    expect(role.statusCode).toBe(201)
    const carl = await signUp(t, 'carl@example.com')
    await t.app.tenancy.tenants.addMember(alice.tenantId, carl.userId, ['contractor'])
    const carls = (await uploadAs(bearer(carl.token), 'carl.png')).json().items[0]
    const admins = (await uploadAs(alice.headers, 'board.png')).json().items[0]
    const listed = await call(
      'GET',
      `/tenants/${alice.tenantId}/files?limit=100`,
      bearer(carl.token),
    )
    expect(listed.statusCode).toBe(200)
    expect(listed.json().items.map((file: { id: string }) => file.id)).toEqual([carls.id])
    for (const path of ['', '/content']) {
      const other = await call(
        'GET',
        `/tenants/${alice.tenantId}/files/${admins.id}${path}`,
        bearer(carl.token),
      )
      expect(other.statusCode).toBe(404)
    }
    const own = await call(
      'GET',
      `/tenants/${alice.tenantId}/files/${carls.id}/content`,
      bearer(carl.token),
    )
    expect(own.statusCode).toBe(200)
  })

  it('gets metadata and downloads with the sniffed type', async () => {
    const file = (await uploadAs(alice.headers, 'logo.png')).json().items[0]
    const meta = await call('GET', `/tenants/${alice.tenantId}/files/${file.id}`, alice.headers)
    expect(meta.statusCode).toBe(200)
    expect(meta.json()).toMatchObject({ id: file.id, name: 'logo.png', contentType: 'image/png' })
    const content = await call(
      'GET',
      `/tenants/${alice.tenantId}/files/${file.id}/content`,
      alice.headers,
    )
    expect(content.statusCode).toBe(200)
    expect(content.headers['content-type']).toBe('image/png')
    expect(content.headers['content-length']).toBe(String(PNG.length))
    expect(content.headers['content-security-policy']).toContain('sandbox')
    expect(content.rawPayload.equals(PNG)).toBe(true)
  })

  it('pages the list with a cursor', async () => {
    const other = await ownerOfNewTenant(t, 'pager@example.com', 'Pager')
    for (const name of ['1.png', '2.png', '3.png'])
      await uploadAs(other.headers, name, other.tenantId)
    const first = await call('GET', `/tenants/${other.tenantId}/files?limit=2`, other.headers)
    expect(first.json().items.map((f: { name: string }) => f.name)).toEqual(['3.png', '2.png'])
    const cursor = first.json().nextCursor
    const second = await call(
      'GET',
      `/tenants/${other.tenantId}/files?limit=2&cursor=${cursor}`,
      other.headers,
    )
    expect(second.json().items.map((f: { name: string }) => f.name)).toEqual(['1.png'])
    expect(second.json().nextCursor).toBeNull()
  })

  it('an API key acts within its scopes, uploading as the user who made it', async () => {
    const keyWith = async (scopes: string[]) => {
      const created = await t.app.inject({
        method: 'POST',
        url: `/tenants/${alice.tenantId}/api-keys`,
        headers: alice.headers,
        payload: { name: `files-${scopes.join('-')}`, scopes },
      })
      expect(created.statusCode).toBe(201)
      return created.json<{ key: string }>().key
    }
    const reader = await keyWith(['files:read'])
    const writer = await keyWith(['files:write'])
    const keyHeaders = (key: string) => ({ 'x-api-key': key, 'x-tenant-id': alice.tenantId })
    expect((await uploadAs(keyHeaders(reader), 'by-reader.png')).statusCode).toBe(403)
    const uploaded = await uploadAs(keyHeaders(writer), 'by-key.png')
    expect(uploaded.statusCode).toBe(201)
    expect(uploaded.json().items[0].ownerId).toBe(alice.userId)
    const listed = await call('GET', `/tenants/${alice.tenantId}/files`, keyHeaders(reader))
    expect(listed.statusCode).toBe(200)
  })

  it('documents every route in OpenAPI under the files tag', async () => {
    const document = (await t.app.inject({ url: '/docs/openapi.json' })).json()
    const operations = Object.entries(
      document.paths as Record<string, Record<string, { tags?: string[]; description?: string }>>,
    )
      .filter(([path]) => path.includes('/files'))
      .flatMap(([, methods]) => Object.values(methods))
    expect(operations.length).toBe(9)
    for (const operation of operations) {
      expect(operation.tags).toEqual(['files'])
      expect(operation.description?.length ?? 0).toBeGreaterThan(40)
    }
  })
})
