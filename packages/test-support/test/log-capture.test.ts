import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { scanCapturedLogs, secretsIn, TEST_PASSWORD } from '../src/index.js'

const opaque = () => randomBytes(32).toString('base64url')
const jwt = [
  'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0',
  'eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE5MjQ5OTIwMDB9',
  'c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi1mb3ItdGhlLXNjYW4',
].join('.')
const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, ...fields })

describe('the suite-wide log scan (LOG-01)', () => {
  it('finds a test password, a JWT, an API key and an opaque token, however they are logged', () => {
    // An opaque token with both cases and a digit, as 32 random bytes nearly always are.
    let token = opaque()
    while (!/[a-z]/.test(token) || !/[A-Z]/.test(token) || !/[0-9]/.test(token)) token = opaque()
    const kinds = (text: string) => secretsIn(text).map((found) => found.kind)
    expect(kinds(line({ body: { password: TEST_PASSWORD.toUpperCase() } }))).toEqual(['password'])
    expect(kinds(line({ headers: { authorization: `Bearer ${jwt}` } }))).toEqual(['jwt'])
    expect(kinds(line({ key: `ak_${'A1b2C3d4E5f6'}_${token}` }))).toEqual(['api_key'])
    expect(kinds(line({ url: `/auth/password/reset?token=${token}` }))).toEqual(['opaque_token'])
    expect(secretsIn(line({ refreshToken: token }))[0]?.excerpt).not.toContain(token)
  })

  it('passes ids, digests and redacted fields', () => {
    const clean = line({
      reqId: randomUUID(),
      hash: randomBytes(32).toString('hex'),
      keyId: randomBytes(8).toString('hex'),
      password: '[Redacted]',
      msg: 'incoming request',
    })
    expect(secretsIn(clean)).toEqual([])
  })

  it('names the file and line of each finding in a run’s captured logs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acme-log-scan-'))
    writeFileSync(join(dir, '101.ndjson'), `${line({ msg: 'ok' })}\n${line({ token: jwt })}\n`)
    writeFileSync(join(dir, '102.ndjson'), `${line({ msg: 'ok' })}\n`)
    expect(scanCapturedLogs(dir)).toEqual([
      { file: join(dir, '101.ndjson'), line: 2, kind: 'jwt', excerpt: expect.any(String) },
    ])
  })
})
