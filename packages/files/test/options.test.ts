import { randomBytes } from 'node:crypto'
import { AcmeConfigError, parseOptions } from '@acme/core'
import { describe, expect, it } from 'vitest'
import { LocalDiskDriver } from '../src/index.js'
import { type FilesOptions, filesOptionsSchema } from '../src/options.js'

const key = randomBytes(32).toString('base64')
const parse = (options: Partial<FilesOptions>) =>
  parseOptions('@acme/files', filesOptionsSchema, options as FilesOptions)

function problemsOf(options: Partial<FilesOptions>): string {
  try {
    parse(options)
  } catch (error) {
    expect(error).toBeInstanceOf(AcmeConfigError)
    return (error as Error).message
  }
  throw new Error('the options were accepted')
}

describe('the options', () => {
  it('take the defaults of the issue: 10 MiB, 20 files, 5-minute links', () => {
    const options = parse({ localDirectory: '/tmp/x', signingKey: key })
    expect(options.upload).toMatchObject({ maxFileBytes: 10 * 1024 * 1024, maxFiles: 20 })
    expect(options.signedUrlTtlSeconds).toBe(300)
  })

  it('name what is wrong', () => {
    expect(problemsOf({ localDirectory: '/tmp/x' })).toContain('signingKey')
    expect(problemsOf({ localDirectory: '/tmp/x', signingKey: 'c2hvcnQ=' })).toContain('32 bytes')
    expect(problemsOf({ signingKey: key })).toContain('storage')
    expect(
      problemsOf({
        signingKey: key,
        localDirectory: '/tmp/x',
        storage: new LocalDiskDriver('/tmp/y'),
      }),
    ).toContain('localDirectory')
    expect(problemsOf({ signingKey: key, storage: {} as never })).toContain('storage driver')
    expect(
      problemsOf({ localDirectory: '/tmp/x', signingKey: key, upload: { allowedTypes: ['png'] } }),
    ).toContain('MIME type')
    expect(
      problemsOf({ localDirectory: '/tmp/x', signingKey: key, upload: { maxFiles: 0 } }),
    ).toContain('maxFiles')
  })
})
