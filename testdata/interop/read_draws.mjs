#!/usr/bin/env node
// read_draws.mjs — read an epmc draws file (Arrow IPC file format) with the
// npm package apache-arrow and print what came through as JSON: column
// names and types, row and batch counts, the schema metadata (the epmc.*
// keys) and the first values of every column (all values with --all).
//
// Usage:
//   node testdata/interop/read_draws.mjs FILE [--all]
//   node testdata/interop/read_draws.mjs --probe      # is apache-arrow there?
//
// apache-arrow is looked up in $EPMC_JS_DEPS (a directory where
// `npm install --prefix DIR apache-arrow@21.2.0` was run) or, without it,
// the usual Node resolution from this file. chains/interop_test.go runs this
// script on files epmc writes and compares the output with what Go wrote.
//
// zstd-compressed files (epmc sample/convert --zstd) need a zstd codec
// registered with apache-arrow. Node's zlib has zstd from Node 22.15 / 23.8
// on; with it this script registers a codec, without it reading a zstd file
// fails with apache-arrow's "codec not found" error (install a zstd decoder
// such as the npm package fzstd and register it the same way).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

function loadArrow() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const base = process.env.EPMC_JS_DEPS ? path.resolve(process.env.EPMC_JS_DEPS) : here;
  const require = createRequire(path.join(base, 'noop.js'));
  try {
    return { arrow: require('apache-arrow'), where: require.resolve('apache-arrow') };
  } catch (e) {
    process.stderr.write(`apache-arrow not found from ${base}: run npm install --prefix DIR apache-arrow@21.2.0 and set EPMC_JS_DEPS=DIR\n`);
    process.exit(3);
  }
}

const { arrow, where } = loadArrow();

// Register a zstd codec when Node's zlib provides one. apache-arrow expects
// the decoded bytes in a fresh, 8-byte-aligned Uint8Array (a view into a
// pooled Buffer gives "start offset of Float64Array should be a multiple
// of 8"), hence the copy.
const zstd = typeof zlib.zstdDecompressSync === 'function';
if (zstd) {
  arrow.compressionRegistry.set(arrow.CompressionType.ZSTD, {
    encode(data) { return new Uint8Array(zlib.zstdCompressSync(data)); },
    decode(data) {
      const b = zlib.zstdDecompressSync(data);
      const out = new Uint8Array(b.length);
      out.set(b);
      return out;
    },
  });
}

const args = process.argv.slice(2);
if (args[0] === '--probe') {
  const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(where), 'package.json'), 'utf8'));
  console.log(JSON.stringify({ apache_arrow: pkg.version, node: process.version, zstd_codec: zstd }));
  process.exit(0);
}
if (args.length < 1) {
  process.stderr.write('usage: node read_draws.mjs FILE [--all]\n');
  process.exit(2);
}
const file = args[0];
const all = args.includes('--all');

let table;
try {
  table = arrow.tableFromIPC(fs.readFileSync(file));
} catch (e) {
  process.stderr.write(`${file}: ${e.message}\n`);
  process.exit(1);
}

const metadata = {};
for (const [k, v] of table.schema.metadata) metadata[k] = v;
const fields = table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable }));
const head = {};
const columns = {};
for (const f of table.schema.fields) {
  const values = Array.from(table.getChild(f.name).toArray(), Number);
  head[f.name] = values.slice(0, 3);
  if (all) columns[f.name] = values;
}
const out = {
  file: path.basename(file),
  num_rows: table.numRows,
  num_batches: table.batches.length,
  fields,
  metadata,
  head,
  zstd_codec: zstd,
};
if (all) out.columns = columns;
console.log(JSON.stringify(out));
