/**
 * Decompression for the codecs KafkaJS does not ship (it has gzip only): LZ4 (frame format),
 * Snappy (raw, or in the xerial framing the Java client writes) and Zstandard, with pure
 * JavaScript libraries, so batches from ordinary Java producers are readable. The gateway's
 * own producers do not compress, so only decompression is provided.
 */
import { decompress as zstdDecompress } from 'fzstd';
import lz4 from 'lz4js';
import snappy from 'snappyjs';

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

export function decompressLz4(buffer: Buffer): Buffer {
  return Buffer.from(lz4.decompress(buffer));
}

export function decompressSnappy(buffer: Buffer): Buffer {
  if (buffer.length < 16 || !buffer.subarray(0, 8).equals(XERIAL_MAGIC)) return Buffer.from(snappy.uncompress(buffer));
  // xerial framing: 8-byte magic, 4-byte version, 4-byte compatible version, then blocks of
  // a 4-byte big-endian length followed by a raw snappy block.
  const parts: Buffer[] = [];
  for (let at = 16; at < buffer.length; ) {
    const length = buffer.readUInt32BE(at);
    at += 4;
    parts.push(Buffer.from(snappy.uncompress(buffer.subarray(at, at + length))));
    at += length;
  }
  return Buffer.concat(parts);
}

export function decompressZstd(buffer: Buffer): Buffer {
  return Buffer.from(zstdDecompress(buffer));
}
