// Writes the AsyncAPI document and JSON Schemas under docs/events/ from the event definitions.
// Run with `npm run contracts:generate`; a test fails when the committed files are out of date.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildCatalogue } from '../src/index.ts';

const target = join(import.meta.dirname, '..', '..', '..', 'docs', 'events');
rmSync(target, { recursive: true, force: true });
for (const file of buildCatalogue()) {
  const path = join(target, file.path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, file.content);
}
console.log(`Wrote the event catalogue to ${target}`);
