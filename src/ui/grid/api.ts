/**
 * GraphQL over HTTP for the grid page: a POST to `graphql` relative to the page (the page's own
 * origin, directly or through a load balancer), with the client token as `Authorization: Bearer`
 * when one is set, and a consistency token in `x-gw-consistency` when the caller passes one.
 * A response with errors and no data throws a GraphQLRequestError carrying the first error's code.
 */

export interface GraphQLResult<T> {
  readonly data: T;
  readonly extensions: { freshness?: Record<string, Record<string, string>>; consistencyToken?: string };
}

export class GraphQLRequestError extends Error {
  readonly code: string | undefined;
  readonly status: number;
  constructor(message: string, code: string | undefined, status: number) {
    super(message);
    this.name = 'GraphQLRequestError';
    this.code = code;
    this.status = status;
  }
}

interface ResponseBody<T> {
  data?: T | null;
  errors?: ReadonlyArray<{ message: string; extensions?: { code?: string } }>;
  extensions?: GraphQLResult<T>['extensions'];
}

export interface Api {
  query<T>(query: string, variables: Record<string, unknown>, consistencyToken?: string): Promise<GraphQLResult<T>>;
}

export function createApi(options: { endpoint: string; token: () => string | undefined }): Api {
  return {
    async query<T>(query: string, variables: Record<string, unknown>, consistencyToken?: string) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
      };
      const token = options.token();
      if (token) headers['authorization'] = `Bearer ${token}`;
      if (consistencyToken) headers['x-gw-consistency'] = consistencyToken;
      const response = await fetch(options.endpoint, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      let body: ResponseBody<T>;
      try {
        body = (await response.json()) as ResponseBody<T>;
      } catch {
        throw new GraphQLRequestError(`the gateway answered ${response.status} without a GraphQL body`, undefined, response.status);
      }
      const first = body.errors?.[0];
      if (first || body.data == null) {
        throw new GraphQLRequestError(
          first?.message ?? `the gateway answered ${response.status} without data`,
          first?.extensions?.code,
          response.status,
        );
      }
      return { data: body.data, extensions: body.extensions ?? {} };
    },
  };
}
