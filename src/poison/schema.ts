import type { Migration } from '../sql/database.js'

/** The poison keys and the audit trail of operator clears (`seq` keeps the trail in clearing order). */
export const poisonSchema: Migration = {
  name: 'poison store',
  sqlite: (t) => [
    `CREATE TABLE ${t('poison')} (key TEXT PRIMARY KEY, token TEXT NOT NULL, created_at INTEGER NOT NULL)`,
    `CREATE TABLE ${t('poison_audit')} (
      seq INTEGER PRIMARY KEY, key TEXT NOT NULL, token TEXT NOT NULL, cleared_by TEXT NOT NULL, reason TEXT, cleared_at INTEGER NOT NULL
    )`,
    `CREATE INDEX ${t('poison_audit_by_key')} ON ${t('poison_audit')} (key, seq)`,
  ],
  postgres: (t) => [
    `CREATE TABLE ${t('poison')} (key TEXT COLLATE "C" PRIMARY KEY, token TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL)`,
    `CREATE TABLE ${t('poison_audit')} (
      seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key TEXT COLLATE "C" NOT NULL, token TEXT COLLATE "C" NOT NULL,
      cleared_by TEXT NOT NULL, reason TEXT, cleared_at BIGINT NOT NULL
    )`,
    `CREATE INDEX poison_audit_by_key ON ${t('poison_audit')} (key, seq)`,
  ],
}
