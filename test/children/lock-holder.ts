// Takes SQLite's write lock on the file in argv[2] with a connection of its own, prints `locked`, holds it for argv[3]
// ms, releases it and prints `released`: another process writing the same file, as seen by a store.
import Database from 'better-sqlite3'

const [file, ms] = process.argv.slice(2) as [string, string]
const db = new Database(file)
db.exec('BEGIN IMMEDIATE')
console.log('locked')
setTimeout(() => {
  db.exec('COMMIT')
  db.close()
  console.log('released')
}, Number(ms))
