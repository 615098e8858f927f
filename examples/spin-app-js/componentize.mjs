// Builds a JavaScript module into a component with componentize-js, for the world `app`
// in WIT_DIR. usage: node componentize.mjs SOURCE.js WIT_DIR OUT.wasm
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, out] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'app',
});
await writeFile(out, component);
console.error(`componentize-js: ${out} (${component.length} bytes)`);
