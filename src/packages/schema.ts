import type { Migration } from '../sql/database.js'

/** Packages by (type, hash), listed by deploy time; one route per type. */
export const packagesSchema: Migration = {
  name: 'package store',
  sqlite: (t) => [
    `CREATE TABLE ${t('packages')} (
      workflow_type TEXT NOT NULL, content_hash TEXT NOT NULL, archive BLOB NOT NULL, deployed_at INTEGER NOT NULL,
      PRIMARY KEY (workflow_type, content_hash)
    )`,
    `CREATE INDEX ${t('packages_by_deploy')} ON ${t('packages')} (deployed_at, workflow_type, content_hash)`,
    `CREATE TABLE ${t('package_routes')} (workflow_type TEXT PRIMARY KEY, content_hash TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
  ],
  postgres: (t) => [
    `CREATE TABLE ${t('packages')} (
      workflow_type TEXT COLLATE "C" NOT NULL, content_hash TEXT COLLATE "C" NOT NULL, archive BYTEA NOT NULL, deployed_at BIGINT NOT NULL,
      PRIMARY KEY (workflow_type, content_hash)
    )`,
    `CREATE INDEX packages_by_deploy ON ${t('packages')} (deployed_at, workflow_type, content_hash)`,
    `CREATE TABLE ${t('package_routes')} (workflow_type TEXT COLLATE "C" PRIMARY KEY, content_hash TEXT COLLATE "C" NOT NULL, updated_at BIGINT NOT NULL)`,
  ],
}
