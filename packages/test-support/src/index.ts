export {
  acceptsConnections,
  freePort,
  isRunning,
  processTree,
  startTcpProxy,
  type TcpProxy,
} from '@acme/test-kit'
export { createTestApp, TEST_BRAND, type TestApp, type TestAppOptions } from './app.js'
export {
  type AppRoleDatabase,
  type AppRoleTestApp,
  type AppRoleTestAppOptions,
  createAppRoleDatabase,
  createAppRoleTestApp,
} from './app-role-database.js'
export { createTestDatabase, type TestDatabase } from './database.js'
export { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName, uniquePrefix } from './env.js'
export {
  captureLogStream,
  type LogFinding,
  type LogSecretKind,
  scanCapturedLogs,
  secretsIn,
  startLogScan,
  TEST_PASSWORDS,
} from './log-capture.js'
export { bearer, createTenant, signUp, TEST_PASSWORD } from './plugin-helpers.js'
export { scheduledRunIds } from './scheduled-runs.js'
export { schemaMigrationsDir } from './schema-migrations-dir.js'
