export type { AppRoleScriptOptions, AppRoleStatement } from './app-role-sql.js'
export { appRoleScript, appRoleStatements } from './app-role-sql.js'
export type { EnsureAppRoleOptions, EnsureAppRoleResult } from './ensure-app-role.js'
export { appRoleSchema, ensureAppRole } from './ensure-app-role.js'
