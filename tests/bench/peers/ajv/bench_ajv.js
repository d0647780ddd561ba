// Peer of tests/bench/bench_schema.c: ajv (draft 2020-12 class) on the same
// schema and instances, printing validations/s in the same line format.
// Install once: npm install --prefix tests/bench/peers/ajv
// Run: node tests/bench/peers/ajv/bench_ajv.js [seconds-per-case]
'use strict';
const Ajv2020 = require('ajv/dist/2020');

const schema = {
  type: 'object',
  properties: {
    path: { type: 'string', minLength: 1 },
    content: { type: 'string' },
    append: { type: 'boolean' },
    mode: { enum: ['text', 'binary'] },
    max: { type: 'integer', minimum: 0 },
  },
  required: ['path', 'content'],
  additionalProperties: false,
};
const validText = '{"path":"src/main.c","content":"int main(void) { return 0; }\\n","append":false,"mode":"text","max":100}';
const invalidText = '{"path":"","content":"x","mode":"hex","max":-1,"extra":true}';
const seconds = Number(process.argv[2] || 1);

function measure(name, fn, expect) {
  if (fn() !== expect) throw new Error(name + ': wrong verdict');
  let n = 0;
  let batch = 1000;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(`ajv ${name}: ${Math.round(n / elapsed)} validations/s`);
}

const first = new Ajv2020({ allErrors: false }).compile(schema);
const all = new Ajv2020({ allErrors: true }).compile(schema);
const valid = JSON.parse(validText);
const invalid = JSON.parse(invalidText);
console.log(`ajv ${require('ajv/package.json').version}, node ${process.version}`);
measure('parsed valid', () => first(valid), true);
measure('parsed invalid first-error', () => first(invalid), false);
measure('parsed invalid all-errors', () => all(invalid), false);
measure('text valid', () => first(JSON.parse(validText)), true);
measure('text invalid all-errors', () => all(JSON.parse(invalidText)), false);
