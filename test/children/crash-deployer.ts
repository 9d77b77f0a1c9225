// Deploys packages in a loop until killed, printing `ok <workflowType> <contentHash>` after each resolved putPackage.
import { openStore } from '../../src/index.js'

const [url, schema, run] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
console.log('ready')
const archive = new Uint8Array(2048).fill(7)
for (let n = 0; ; n++) {
  const workflowType = `wf-${n % 3}`
  const contentHash = `h-${run}-${n}`
  await store.packages.putPackage({ workflowType, contentHash, archive, deployedAt: Date.now() })
  process.stdout.write(`ok ${workflowType} ${contentHash}\n`)
}
