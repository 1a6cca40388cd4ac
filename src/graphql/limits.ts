/**
 * Validation rules against abusive queries: selection depth (fragments followed) and the number
 * of aliased or repeated root fields. Page sizes are capped separately by MAX_PAGE_SIZE.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

function depthOf(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  seen: Set<string>,
): number {
  if (!selectionSet) return 0;
  let deepest = 0;
  for (const selection of selectionSet.selections) {
    let depth = 0;
    if (selection.kind === Kind.FIELD) {
      depth = selection.selectionSet ? 1 + depthOf(selection.selectionSet, fragments, seen) : 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      depth = depthOf(selection.selectionSet, fragments, seen);
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      if (fragment && !seen.has(name)) {
        seen.add(name);
        depth = depthOf(fragment.selectionSet, fragments, seen);
        seen.delete(name);
      }
    }
    deepest = Math.max(deepest, depth);
  }
  return deepest;
}

/** Rejects operations nested deeper than `maxDepth` fields, with code GW_QUERY_TOO_COMPLEX. */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    }
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, fragments, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`query depth ${depth} exceeds the limit of ${maxDepth}`, {
              nodes: [node],
              extensions: { code: 'GW_QUERY_TOO_COMPLEX', retriable: false },
            }),
          );
        }
      },
    };
  };
}

/** Rejects operations that select more than `maxRootFields` root fields (aliases included). */
export function rootFieldLimitRule(maxRootFields: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const count = node.selectionSet.selections.length;
      if (count > maxRootFields) {
        context.reportError(
          new GraphQLError(`${count} root fields exceed the limit of ${maxRootFields}`, {
            nodes: [node],
            extensions: { code: 'GW_QUERY_TOO_COMPLEX', retriable: false },
          }),
        );
      }
    },
  });
}
