import { manualClock } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFilesApp,
  type FilesTestApp,
  multipart,
  ownerOfNewTenant,
  PNG,
} from './support/app.js'

describe('signed download links', () => {
  const time = manualClock('2026-03-01T10:00:00Z')
  let t: FilesTestApp
  let a: Awaited<ReturnType<typeof ownerOfNewTenant>>
  let b: Awaited<ReturnType<typeof ownerOfNewTenant>>
  let aFile: string
  let bFile: string

  const uploadTo = async (owner: typeof a) => {
    const body = multipart([{ name: 'scan.png', content: PNG }])
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
    return response.json().items[0].id as string
  }
  const sign = (owner: typeof a, fileId: string) =>
    t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files/${fileId}/signed-url`,
      headers: owner.headers,
    })
  // No credentials: the link is the credential.
  const fetchLink = (url: string) => t.app.inject({ method: 'GET', url })

  beforeAll(async () => {
    t = await createFilesApp({ clock: time.now })
    a = await ownerOfNewTenant(t, 'link-a@example.com', 'Links A')
    b = await ownerOfNewTenant(t, 'link-b@example.com', 'Links B')
    aFile = await uploadTo(a)
    bFile = await uploadTo(b)
  })
  afterAll(async () => t?.close())

  it('downloads the file without credentials until it expires, 5 minutes by default', async () => {
    const signed = await sign(a, aFile)
    expect(signed.statusCode).toBe(201)
    const { url, expiresAt } = signed.json()
    expect(new Date(expiresAt).getTime()).toBe(time.now().getTime() + 300_000)
    const response = await fetchLink(url)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('image/png')
    expect(response.headers['content-disposition']).toContain('attachment')
    expect(response.rawPayload.equals(PNG)).toBe(true)

    time.advance(299_000)
    expect((await fetchLink(url)).statusCode).toBe(200)
    time.advance(1_000)
    const expired = await fetchLink(url)
    expect(expired.statusCode).toBe(403)
    expect(expired.json().code).toBe('ACME_FILES_LINK_EXPIRED')
  })

  it('binds a link to its tenant: tenant B’s link used with A’s tenant answers 404', async () => {
    const { url } = (await sign(b, bFile)).json()
    const asA = url.replace(b.tenantId, a.tenantId)
    const response = await fetchLink(asA)
    expect(response.statusCode).toBe(404)
    expect(response.json().code).toBe('ACME_FILES_LINK_INVALID')
    // Signed in as A changes nothing.
    const withA = await t.app.inject({ method: 'GET', url: asA, headers: a.headers })
    expect(withA.statusCode).toBe(404)
  })

  it('tenant B’s genuine link used by a caller signed in to tenant A answers 404', async () => {
    const { url } = (await sign(b, bFile)).json()
    // A's session switched to A (its token carries A), and an API key bound to A.
    const switched = await t.app.inject({
      method: 'POST',
      url: `/tenants/${a.tenantId}/switch`,
      headers: a.headers,
    })
    expect(switched.statusCode).toBe(200)
    const asA = { authorization: `Bearer ${switched.json().accessToken}` }
    const bySession = await t.app.inject({ method: 'GET', url, headers: asA })
    expect(bySession.statusCode).toBe(404)
    const key = await t.app.inject({
      method: 'POST',
      url: `/tenants/${a.tenantId}/api-keys`,
      headers: a.headers,
      payload: { name: 'links', scopes: ['files:read'] },
    })
    const byKey = await t.app.inject({
      method: 'GET',
      url,
      headers: { 'x-api-key': key.json().key },
    })
    expect(byKey.statusCode).toBe(404)
    // B itself, signed in, and anyone without credentials, download it.
    expect((await t.app.inject({ method: 'GET', url, headers: b.headers })).statusCode).toBe(200)
    expect((await fetchLink(url)).statusCode).toBe(200)
  })

  it('binds a link to its file and its expiry: any change answers 404', async () => {
    const { url } = (await sign(a, aFile)).json()
    const otherFile = url.replace(aFile, bFile)
    expect((await fetchLink(otherFile)).statusCode).toBe(404)
    const later = url.replace(
      /expires=(\d+)/,
      (_m: string, n: string) => `expires=${Number(n) + 3600}`,
    )
    expect((await fetchLink(later)).statusCode).toBe(404)
    const forged = url.replace(
      /signature=[^&]+/,
      'signature=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    )
    expect((await fetchLink(forged)).statusCode).toBe(404)
    const truncated = url.replace(
      /signature=([^&]+)/,
      (_m: string, s: string) => `signature=${s.slice(0, 10)}`,
    )
    expect((await fetchLink(truncated)).statusCode).toBe(404)
  })

  it('A cannot have a link signed for B’s file', async () => {
    const response = await sign(a, bFile)
    expect(response.statusCode).toBe(404)
  })

  it('a link signed for A naming B’s file finds nothing: the lookup is in A’s tenant', async () => {
    const { path } = t.app.files.signedUrl(a.tenantId, bFile)
    const response = await fetchLink(path)
    expect(response.statusCode).toBe(404)
    expect(response.json().code).toBe('ACME_FILES_NOT_FOUND')
  })

  it('a deleted file’s link answers 404', async () => {
    const id = await uploadTo(a)
    const { url } = (await sign(a, id)).json()
    await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${a.tenantId}/files/${id}`,
      headers: a.headers,
    })
    expect((await fetchLink(url)).statusCode).toBe(404)
  })
})
