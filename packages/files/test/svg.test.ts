import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createFilesApp,
  type FilesTestApp,
  filesOn,
  multipart,
  ownerOfNewTenant,
} from './support/app.js'

const HOSTILE_SVG = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg [<!ENTITY boom "expanded-entity">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10" onload="alert(1)">
  <script>alert(2)</script>
  <a href="javascript:alert(3)"><rect id="r" width="5" height="5" fill="red"/></a>
  <a xlink:href="javascript:alert(4)"><circle r="2"/></a>
  <foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.test/"></iframe></foreignObject>
  <use href="https://evil.test/sprite.svg#icon"/>
  <animate attributeName="href" to="javascript:alert(5)"/>
  <set attributeName="onclick" to="alert(6)"/>
  <text onclick="alert(7)">&boom;</text>
</svg>`

describe('SVG on a route that sanitises it (upload.svg: sanitise)', () => {
  let t: FilesTestApp
  let owner: Awaited<ReturnType<typeof ownerOfNewTenant>>
  beforeAll(async () => {
    t = await createFilesApp({
      upload: { allowedTypes: ['image/svg+xml', 'image/png'], svg: 'sanitise' },
    })
    owner = await ownerOfNewTenant(t, 'svg@example.com', 'SVG')
  })
  afterAll(async () => t?.close())

  const upload = (name: string, content: string | Buffer) => {
    const body = multipart([{ name, content }])
    return t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
  }

  it('stores the SVG without anything that runs: scripts, handlers, javascript: links, foreign content', async () => {
    const response = await upload('logo.svg', HOSTILE_SVG)
    expect(response.statusCode).toBe(201)
    const file = response.json().items[0]
    expect(file.contentType).toBe('image/svg+xml')
    const content = await t.app.inject({
      method: 'GET',
      url: `/tenants/${owner.tenantId}/files/${file.id}/content`,
      headers: owner.headers,
    })
    expect(content.statusCode).toBe(200)
    expect(content.headers['content-type']).toContain('image/svg+xml')
    const stored = content.body
    for (const gone of [
      '<script',
      'alert(',
      'onload',
      'onclick',
      'javascript:',
      'foreignObject',
      'iframe',
      'evil.test',
      '<animate',
      '<set',
      'expanded-entity',
    ]) {
      expect(stored, gone).not.toContain(gone)
    }
    // Still an SVG image: the namespace, the shapes and their attributes are kept.
    expect(stored).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    expect(stored).toContain('<rect id="r" width="5" height="5" fill="red"/>')
    // What is recorded describes the stored bytes, not the uploaded ones.
    expect(file.sizeBytes).toBe(Buffer.byteLength(stored))
    expect(file.sha256).toBe(createHash('sha256').update(stored).digest('hex'))
  })

  it('refuses markup that holds an <svg> without being an SVG document (415)', async () => {
    const before = await filesOn(t.directory)
    const response = await upload(
      'page.svg',
      '<html><body><svg xmlns="http://www.w3.org/2000/svg"></svg><script>alert(1)</script></body></html>',
    )
    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({ code: 'ACME_FILES_UNSUPPORTED_TYPE' })
    expect(await filesOn(t.directory)).toEqual(before)
  })

  it('refuses an SVG over 1 MiB with 413: it would be parsed whole', async () => {
    const big = `<svg xmlns="http://www.w3.org/2000/svg">${'<g/>'.repeat(300_000)}</svg>`
    const response = await upload('big.svg', big)
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({ code: 'ACME_FILES_FILE_TOO_LARGE' })
  })

  it('refuses an SVG that is not UTF-8 (415)', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><text>'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('</text></svg>'),
    ])
    const response = await upload('bad.svg', latin1)
    expect(response.statusCode).toBe(415)
  })
})

describe('SVG on a route that does not sanitise it (the default)', () => {
  let t: FilesTestApp
  beforeAll(async () => {
    t = await createFilesApp({ upload: { allowedTypes: ['image/svg+xml'] } })
  })
  afterAll(async () => t?.close())

  it('is refused even when the allowlist names it', async () => {
    const owner = await ownerOfNewTenant(t, 'no-svg@example.com', 'No SVG')
    const body = multipart([{ name: 'logo.svg', content: HOSTILE_SVG }])
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({ detectedType: 'image/svg+xml' })
  })
})
