/**
 * `npm run bench:validation`: how long graphql-js's validation takes for the costliest document
 * the default query limits let through (MAX_QUERY_TOKENS 1500, MAX_QUERY_BREADTH 50): selection
 * sets of 50 same-named fields with subselections, which its overlapping-fields check compares
 * pairwise. Prints the validation time of three runs of that document, and of GraphiQL's
 * introspection query for comparison. Figures only: it asserts nothing.
 */
import { getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { loadConfig } from '../../src/config.ts';
import { checkShape, limitedParse } from '../../src/graphql/limits.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { compileViews, loadViewDeclarations } from '../../src/views/model.ts';

const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' });
const views = compileViews(await loadViewDeclarations(config.viewsDir), '');
const schema = buildSchema(views, { defaultPageSize: 50, maxPageSize: config.maxPageSize });
const limits = { ...config.queryLimits, maxDepth: config.maxQueryDepth, defaultPageSize: 50, maxPageSize: config.maxPageSize };

const breadth = limits.maxBreadth;
// Each set: `aN: payments { order { orderId } ×breadth }`, 4 tokens per field plus the set's own.
const sets = Math.floor((limits.maxTokens - 10) / (4 * breadth + 6));
const worst = `{ order(orderId: "x") { ${Array.from({ length: sets }, (_, i) => `a${i}: payments { ${'order { orderId } '.repeat(breadth)} }`).join(' ')} } }`;
const document = limitedParse(limits.maxTokens)(worst);
const refused = checkShape(document, limits);
if (refused.length > 0) throw new Error(`the document is over the limits: ${refused.map((error) => error.message).join('; ')}`);

const time = (what: string, run: () => unknown) => {
  const times: string[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    run();
    times.push((performance.now() - started).toFixed(1));
  }
  console.log(`${what}: ${times.join(', ')} ms`);
};
console.log(`limits: ${limits.maxTokens} tokens, ${breadth} fields per selection set; ${sets} sets of ${breadth} fields`);
time('validation of the costliest document within the limits', () => validate(schema, document, specifiedRules));
const introspection = parse(getIntrospectionQuery({ descriptions: true }));
time('validation of the introspection query', () => validate(schema, introspection, specifiedRules));
