export type { MigrateApplyOptions, MigrateApplyResult } from './apply.js'
export { migrateApply } from './apply.js'
export { migrationChecksum } from './checksum.js'
export type { MigrateDiffOptions, MigrateDiffResult } from './diff.js'
export { migrateDiff } from './diff.js'
export { diffDatamodels } from './engine.js'
export type { MigrateErrorCode } from './errors.js'
export { MigrateError } from './errors.js'
export type { MigrationQueryTarget, MigrationTarget, SqlRow } from './executor.js'
export type { SchemaFile } from './schema-files.js'
export { SNAPSHOT_FILE } from './snapshot.js'
export type { MigrateStatusOptions, MigrationStatus } from './status.js'
export { formatStatus, migrateStatus } from './status.js'
export type { TenantRlsInput, TenantTable } from './tenant-rls.js'
export {
  rowLevelSecuritySection,
  TENANT_POLICY_NAME,
  TENANT_SETTING,
  tablesNeedingRowLevelSecurity,
  tenantRowLevelSecuritySql,
} from './tenant-rls.js'
