import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { userEnvironment } from '../src/environment.js'

describe('userEnvironment', () => {
  const from = {
    HOME: '/home/ann',
    PATH: '/repo/node_modules/.bin:/repo/packages/x/node_modules/.bin:/repo/.ci/bin:/usr/bin:/bin',
    npm_config_user_agent: 'pnpm/12.4.2',
    PRISMA_SCHEMA_ENGINE_BINARY: '/usr/bin/true',
    DATABASE_URL: 'postgresql://elsewhere',
    CI: 'true',
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
  }

  it('puts this Node first and leaves out every workspace and node_modules bin folder', () => {
    const env = userEnvironment('/repo', from)
    expect(env.PATH).toBe(`${dirname(process.execPath)}:/usr/bin:/bin`)
    expect(env.HOME).toBe('/home/ann')
  })

  it("passes on nothing of the runner's (npm config, the Prisma engine variable, databases), but the machine's certificates", () => {
    const env = userEnvironment('/repo', from)
    expect(Object.keys(env).filter((name) => !name.startsWith('npm_config_'))).toEqual([
      'HOME',
      'NODE_EXTRA_CA_CERTS',
      'PATH',
    ])
    expect(env.npm_config_user_agent).toBeUndefined()
  })
})
