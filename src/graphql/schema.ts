/**
 * Builds the GraphQL schema from the compiled views with Pothos: per view an object type that
 * implements `Node`, a lookup by key, a Relay connection with `orderBy`/`filter`/`totalCount`,
 * relation fields batched through the request's DataLoaders, and subscriptions. Nothing here
 * knows about Kafka or partitions; reads go through the context's reader.
 *
 * Each part adds its types to one shared builder. The order of the calls below is the order
 * types of a kind appear in the unsorted schema, so it is kept stable.
 */
import type { GraphQLSchema } from 'graphql';
import type { ViewModel } from '../views/model.ts';
import { createBuilder } from './builder.ts';
import { defineConnections } from './connections.ts';
import { defineConnectionInputs } from './input-types.ts';
import type { PagingLimits } from './inputs.ts';
import { declareObjectRefs, defineNodeTypes } from './node-types.ts';
import { defineQueryFields } from './query-fields.ts';
import { defineScalars } from './scalars.ts';
import { defineSubscriptionFields } from './subscription-fields.ts';

export type SchemaOptions = PagingLimits;

/** The schema of these views; `options` are the page sizes the paging arguments allow. */
export function buildSchema(views: readonly ViewModel[], options: SchemaOptions): GraphQLSchema {
  const builder = createBuilder({ views, limits: options });
  const fieldTypes = defineScalars(builder);
  // Refs first, so that relations and connections can point at views defined later.
  const objects = declareObjectRefs(builder, views);
  const connectionInputs = defineConnectionInputs(builder, { views, fieldTypes });
  const connections = defineConnections(builder, { views, objects, limits: options });
  defineNodeTypes(builder, { views, objects, fieldTypes, connectionInputs, connections });
  defineQueryFields(builder, { views, objects, connectionInputs, connections });
  defineSubscriptionFields(builder, { views, objects, connectionInputs, limits: options });
  return builder.toSchema({ sortSchema: false });
}
