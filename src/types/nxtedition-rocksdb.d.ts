// The binding ships no type declarations; `src/store/rocks.ts` is its only importer and narrows
// what it uses to structural interfaces of its own.
declare module '@nxtedition/rocksdb' {
  export class RocksLevel {
    constructor(location: string, options?: { keyEncoding?: string; valueEncoding?: string });
    open(options?: object): Promise<void>;
    close(): Promise<void>;
    clear(options: { gte?: Buffer; lt?: Buffer }): Promise<void>;
  }
}
