import { MigrateError } from '../migrate/errors.js'
import { appRoleScript, assertRoleName } from './app-role-sql.js'
import { appRoleSchema, ensureAppRole } from './ensure-app-role.js'

export interface AppRoleCommandFlags {
  role: string | undefined
  passwordEnv: string | undefined
  url: string | undefined
  print: boolean
}

/** `acme db app-role`: the password only ever comes from the environment, never from argv. */
export async function appRoleCommand(
  flags: AppRoleCommandFlags,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<number> {
  if (flags.role === undefined) {
    throw new MigrateError('ACME_CLI_ROLE_NAME_INVALID', 'db app-role needs --role <name>')
  }
  assertRoleName(flags.role)
  const url = flags.url ?? env.DATABASE_URL
  if (flags.print) {
    log(
      appRoleScript({
        role: flags.role,
        schema: appRoleSchema(url),
        withPassword: flags.passwordEnv !== undefined,
      }),
    )
    return 0
  }
  if (!url) {
    throw new MigrateError(
      'ACME_CLI_DATABASE_URL_MISSING',
      "db app-role needs the migration owner's connection: DATABASE_URL or --url (or --print for the SQL)",
    )
  }
  const password = flags.passwordEnv === undefined ? undefined : env[flags.passwordEnv]
  if (flags.passwordEnv !== undefined && !password) {
    throw new MigrateError(
      'ACME_CLI_PASSWORD_ENV_EMPTY',
      `--password-env names ${flags.passwordEnv}, which is not set or empty`,
    )
  }
  const result = await ensureAppRole({
    url,
    role: flags.role,
    ...(password === undefined ? {} : { password }),
  })
  log(
    `${result.created ? 'Created' : 'Updated'} role ${result.role}: data access to schema ${result.schema}, ` +
      "no ownership, no SUPERUSER or BYPASSRLS. Point the app's DATABASE_URL at this role.",
  )
  return 0
}
