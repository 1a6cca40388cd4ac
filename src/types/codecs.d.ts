// The codec libraries ship no declarations for what src/kafka/codecs.ts uses.
declare module 'lz4js' {
  const lz4: { decompress(source: Uint8Array, maxSize?: number): Uint8Array };
  export default lz4;
}
declare module 'snappyjs' {
  const snappy: { uncompress(source: Uint8Array): Uint8Array };
  export default snappy;
}
