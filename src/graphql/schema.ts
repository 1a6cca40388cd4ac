/**
 * Builds the GraphQL schema from the compiled views with Pothos: per view an object type that
 * implements `Node`, a lookup by key, a Relay connection with `orderBy`/`filter`/`totalCount`,
 * relation fields batched through the request's DataLoaders, and subscriptions. Nothing here
 * knows about Kafka or partitions; reads go through the context's reader.
 *
 * Each part adds its types to one shared builder. The order of the calls below is the order
 * types of a kind appear in the unsorted schema, so it is kept stable.
 */
import { isObjectType, type GraphQLSchema } from 'graphql';
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
  const schema = builder.toSchema({ sortSchema: false });
  dropPropertyResolvers(schema, views);
  return schema;
}

/**
 * The Relay plugin resolves `edges` and `pageInfo` of a connection and `node` of an edge with
 * functions that only read the parent's property of the same name. graphql-jit runs a field with
 * a resolver as a separate call with a resolve-info object, per edge; without one it reads the
 * property inline. GraphQL's default resolver reads the same property, so dropping these changes
 * no answer. Each resolver is checked to be such a read first: a plugin version that resolves
 * them otherwise fails here, at startup, rather than answering differently.
 */
function dropPropertyResolvers(schema: GraphQLSchema, views: readonly ViewModel[]): void {
  const drop = (typeName: string, fieldName: string): void => {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) throw new Error(`schema: ${typeName} is not an object type`);
    const field = type.getFields()[fieldName];
    if (!field?.resolve) throw new Error(`schema: ${typeName}.${fieldName} has no resolver to drop`);
    const probe = {};
    const resolved = field.resolve({ [fieldName]: probe }, {}, undefined, undefined as never);
    if (resolved !== probe) throw new Error(`schema: ${typeName}.${fieldName} does not only read its parent's property`);
    field.resolve = undefined;
  };
  for (const view of views) {
    drop(`${view.name}Connection`, 'edges');
    drop(`${view.name}Connection`, 'pageInfo');
    drop(`${view.name}Edge`, 'node');
  }
}
