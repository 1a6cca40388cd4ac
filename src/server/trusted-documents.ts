/**
 * Trusted documents (TRUSTED_DOCUMENTS_FILE): only the GraphQL documents of a manifest run. The
 * manifest is the JSON object GraphQL Code Generator's client preset writes with
 * `persistedDocuments: { hashAlgorithm: 'sha256' }` (`persisted-documents.json`):
 * `{ "<sha256 hash>": "<document text>" }`. Ids are compared as written (hex in any case, with or
 * without `sha256:`); the texts are not hashed again.
 *
 * A request names its document by id, in any of these places:
 *
 * - `documentId` at the top of the request (the GraphQL-over-HTTP trusted documents convention;
 *   on a GET, the `documentId` URL parameter);
 * - `extensions.persistedQuery.sha256Hash` (Apollo's automatic persisted queries);
 *
 * and an id may carry the `sha256:` prefix. A request with query text is refused with
 * GW_DOCUMENT_NOT_TRUSTED (also when it carries an id: text and id together are ambiguous), one
 * without an id too, and an id that is not in the manifest with GW_DOCUMENT_NOT_FOUND; all 400.
 * Over HTTP this is yoga's persisted operations plugin (`@graphql-yoga/plugin-persisted-operations`)
 * with these errors; over WebSocket the same lookup runs in `onSubscribe`, where graphql-ws
 * requires `query` to be a string: a trusted subscribe sends `query: ""` with the id.
 */
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERRORS, GatewayError, type ErrorCode } from '../errors.ts';

export interface TrustedDocuments {
  /** Documents registered. */
  readonly size: number;
  /** The text of a registered document, by id (with or without `sha256:`, any case of hex). */
  get(id: string): string | undefined;
}

/** An id as the manifest keys are compared: without `sha256:`, hex in lower case. */
function normalizeId(id: string): string {
  const bare = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return /^[0-9a-fA-F]+$/.test(bare) ? bare.toLowerCase() : bare;
}

/** Parses a manifest; throws a plain Error saying what is wrong. */
export function parseTrustedDocuments(json: string): TrustedDocuments {
  const parsed: unknown = JSON.parse(json);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the manifest is not a JSON object of id -> document text');
  const documents = new Map<string, string>();
  for (const [id, text] of Object.entries(parsed)) {
    if (id.trim() === '' || typeof text !== 'string' || text.trim() === '') {
      throw new Error(`entry ${JSON.stringify(id)} is not an id with a document text`);
    }
    documents.set(normalizeId(id), text);
  }
  return {
    size: documents.size,
    get: (id) => documents.get(normalizeId(id)),
  };
}

/** Reads TRUSTED_DOCUMENTS_FILE; throws GW_CONFIG_INVALID naming the variable. */
export function loadTrustedDocuments(file: string): TrustedDocuments {
  try {
    return parseTrustedDocuments(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      `TRUSTED_DOCUMENTS_FILE must be a JSON manifest { "<sha256 hash>": "<document>" }; ${file}: ${(error as Error).message}`,
      {
        details: { variable: 'TRUSTED_DOCUMENTS_FILE' },
        cause: error,
      },
    );
  }
}

/** What a request carries besides `query`: `documentId`, and APQ's `extensions.persistedQuery`. */
interface RequestIds {
  readonly documentId?: unknown;
  readonly extensions?: unknown;
}

/** The document id a request names: `documentId`, then APQ's hash; undefined when none. */
export function requestedDocumentId(params: RequestIds, url?: string): string | undefined {
  if (typeof params.documentId === 'string' && params.documentId !== '') return params.documentId;
  const extensions = params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined;
  const hash = extensions && typeof extensions === 'object' ? extensions.persistedQuery?.sha256Hash : undefined;
  if (typeof hash === 'string' && hash !== '') return hash;
  if (url !== undefined) {
    const query = url.indexOf('?');
    const fromUrl = query < 0 ? null : new URLSearchParams(url.slice(query + 1)).get('documentId');
    if (fromUrl) return fromUrl;
  }
  return undefined;
}

function refusal(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, retriable: ERRORS[code].retriable, http: { status: ERRORS[code].status } } });
}

const TEXT_REFUSED = 'this gateway runs trusted documents only: send the documentId of a registered document, not query text';
const ID_REQUIRED =
  'this gateway runs trusted documents only: a request must carry documentId (or extensions.persistedQuery.sha256Hash) of a registered document';

function notFound(id: string): GraphQLError {
  return refusal('GW_DOCUMENT_NOT_FOUND', `document ${JSON.stringify(id.slice(0, 100))} is not a registered trusted document`);
}

/** yoga's persisted operations plugin over the manifest, with the registry's errors. */
export function trustedDocumentsPlugin(documents: TrustedDocuments): Plugin {
  return usePersistedOperations({
    allowArbitraryOperations: false,
    extractPersistedOperationId: (params, request) =>
      requestedDocumentId(params as RequestIds, request.method === 'GET' ? request.url : undefined) ?? null,
    getPersistedOperation: (id) => documents.get(id) ?? null,
    customErrors: {
      persistedQueryOnly: () => refusal('GW_DOCUMENT_NOT_TRUSTED', TEXT_REFUSED),
      keyNotFound: () => refusal('GW_DOCUMENT_NOT_TRUSTED', ID_REQUIRED),
      notFound: (payload) => notFound(requestedDocumentId(payload.params as RequestIds, payload.request.url) ?? ''),
    },
  }) as Plugin;
}

/** A graphql-ws subscribe payload, as far as trusted documents look at it. */
export interface SubscribePayload extends RequestIds {
  readonly query: string;
}

/** The text a WebSocket subscribe runs in trusted mode, or the error it fails with. */
export function trustedSubscribeText(documents: TrustedDocuments, payload: SubscribePayload): string | GraphQLError {
  if (payload.query !== '') return refusal('GW_DOCUMENT_NOT_TRUSTED', `${TEXT_REFUSED} (over WebSocket: query "" with the documentId)`);
  const id = requestedDocumentId(payload);
  if (id === undefined) return refusal('GW_DOCUMENT_NOT_TRUSTED', ID_REQUIRED);
  return documents.get(id) ?? notFound(id);
}
