import { dirname, isAbsolute, relative } from 'node:path'

/** What a person's shell has: nothing of the workspace, of pnpm's script runner, or of CI. */
const KEPT = [
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'SHELL',
  'TERM',
  // How this machine reaches the registry: a person's shell here has them too. Without them a
  // Node that does not read the system's certificates (the one npm installs for the Node 24 run)
  // cannot verify the proxy in front of the registry.
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
]

/**
 * The environment the page's commands run in, as a new user's shell would have it: this
 * process's Node first on PATH, none of the workspace's `node_modules/.bin` (so a command the
 * app did not install cannot be found there), no `npm_config_*` from the runner, and no
 * PRISMA_SCHEMA_ENGINE_BINARY (the page says `acme` sets it for the Prisma commands it runs).
 */
export function userEnvironment(
  workspaceRoot: string,
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of KEPT) {
    const value = from[name]
    if (value) env[name] = value
  }
  const path = (from.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('node_modules') && !inside(workspaceRoot, dir))
  env.PATH = [dirname(process.execPath), ...path].join(':')
  // npm's chatter and round trips, not what it installs: no funding notes, no audit request, no
  // update check, and package metadata from its cache when it has them (a cold cache fetches).
  env.npm_config_prefer_offline = 'true'
  env.npm_config_fund = 'false'
  env.npm_config_audit = 'false'
  env.npm_config_update_notifier = 'false'
  return env
}

function inside(root: string, dir: string): boolean {
  const path = relative(root, dir)
  return path === '' || (!path.startsWith('..') && !isAbsolute(path))
}
