import { fileURLToPath } from 'node:url'
import { checkPublishedTypes } from '@acme/test-kit'
import { describe, expect, it } from 'vitest'

// The declaration files the build wrote (turbo builds before it tests): what a consumer's
// TypeScript reads, the S3 entry's included.
const packageDir = fileURLToPath(new URL('..', import.meta.url))

describe('the published types', () => {
  it('are small, name no generated client, and import only declared packages', () => {
    expect(checkPublishedTypes(packageDir)).toEqual([])
  })
})
