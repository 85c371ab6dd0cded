import { startLogScan, TEST_PASSWORDS } from '@acme/test-support'
import type { TestProject } from 'vitest/node'
import { PASSWORD } from '../fuzz/fixtures.js'
import { OWNER_PASSWORD } from './owner.js'

/**
 * vitest `globalSetup`: every app these tests build, and the `pnpm start` child's output, log
 * into the run's capture; after the last file, a password or token found there fails the run
 * (LOG-02 across the starter's suite, as the packages' suites do).
 */
export default function setup(project: TestProject): () => void {
  return startLogScan(project, [...TEST_PASSWORDS, PASSWORD, OWNER_PASSWORD, 'wrong password'])
}
