// Deploys, re-routes and rolls back in a loop until killed, printing `ok <workflowType> <contentHash> <version>`
// after each change resolved (the version of its route event).
import { openStore, PackageRegistry } from '../../src/index.js'

const [url, schema, run] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
const registry = new PackageRegistry(store)
console.log('ready')
const archive = new Uint8Array(2048)
for (let n = 0; ; n++) {
  const workflowType = `wf-${n % 3}`
  const step = Math.floor(n / 3) % 4
  let record
  if (step < 2) {
    archive.set(new TextEncoder().encode(`${run}-${n}`))
    record = await registry.deploy(workflowType, archive, { by: run, also: step === 1 ? [`${workflowType}-child`] : [] })
  } else {
    record = await registry.rollback(workflowType, { by: run, reason: 'loop' }).catch(() => registry.current(workflowType))
  }
  const [last] = (await registry.history(workflowType)).slice(-1)
  process.stdout.write(`ok ${workflowType} ${record?.contentHash} ${last?.version}\n`)
}
