// An independent Node.js client for predict.proto, written from the proto comments alone
// (@grpc/grpc-js + @grpc/proto-loader + apache-arrow). NodeClientInteropTest runs it against a
// real Java PredictServer hosting:
//   row-sum  versions "9" and "10": one float32 column "score", the row's sum (float32, in order)
//   echo     returns its input
//   sum-ab   row-sum with a declared input schema (a, b: float32 not null)
//
//   node client.mjs --target 127.0.0.1:PORT --proto-dir ../../../../predict-api/src/main/proto
//       [--rows 50000,50000,49999,1,50000] [--columns 4] [--max-chunk 65536]
//
// It checks every value itself and exits 1 on the first mismatch (the message on stderr). On
// success it prints one JSON line on stdout, a summary the Java test compares with its own
// computation.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import lz4 from 'lz4js';
import { decompress as zstdDecompress } from 'fzstd';
import {
  CompressionType,
  Float32,
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Table,
  MessageReader,
  Type,
  makeVector,
  tableFromIPC,
  compressionRegistry,
  tableToIPC,
} from 'apache-arrow';

// Compressed Arrow IPC bodies (StreamHeader.output_compression): apache-arrow reads them once a
// codec is registered for each CompressionType. Pure-JS codecs, no native build: lz4js reads and
// writes LZ4 frames, fzstd reads Zstandard frames.
compressionRegistry.set(CompressionType.LZ4_FRAME, {
  encode: (data) => lz4.compress(data),
  decode: (data) => lz4.decompress(data),
});
compressionRegistry.set(CompressionType.ZSTD, { decode: (data) => zstdDecompress(data) });

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = {
    target: null,
    protoDir: process.env.PREDICT_PROTO_DIR
      || path.resolve(here, '../../../../predict-api/src/main/proto'),
    rows: [50000, 50000, 50000, 50000, 50000],
    columns: 4,
    maxChunk: 64 * 1024,
    deadlineSeconds: 60,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    switch (key) {
      case '--target': args.target = value; break;
      case '--proto-dir': args.protoDir = value; break;
      case '--rows': args.rows = value.split(',').map((s) => parseInt(s, 10)); break;
      case '--columns': args.columns = parseInt(value, 10); break;
      case '--max-chunk': args.maxChunk = parseInt(value, 10); break;
      case '--deadline-seconds': args.deadlineSeconds = parseInt(value, 10); break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  if (!args.target) throw new Error('--target host:port is required');
  if (!(args.maxChunk >= 8 && args.maxChunk <= 1 << 20)) throw new Error('--max-chunk: 8..1 MiB');
  return args;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${typeof message === 'function' ? message() : message}`);
}

// ---- the table --------------------------------------------------------------------------------

// The value of (batch, row, column); NodeClientInteropTest.value computes the same float32:
// (float) (k / 37.0) with k = (batch * 1_000_003 + row * 31 + column * 7) % 20011 - 10005.
function value(batch, row, column) {
  const k = ((batch * 1000003 + row * 31 + column * 7) % 20011) - 10005;
  return Math.fround(k / 37);
}

const columnName = (c) => String.fromCharCode('a'.charCodeAt(0) + c);

function buildTable(rowsPerBatch, columns) {
  const batches = rowsPerBatch.map((rows, b) => {
    const vectors = {};
    for (let c = 0; c < columns; c++) {
      const data = new Float32Array(rows);
      for (let r = 0; r < rows; r++) data[r] = value(b, r, c);
      vectors[columnName(c)] = makeVector(data);
    }
    return new RecordBatch(vectors);
  });
  return new Table(batches);
}

// The float32 sum of a row, added left to right from 0 as the Java model does (a double sum of two
// float32 values rounded to float32 is exactly the float32 sum).
function rowSum(batch, row, columns) {
  let sum = 0;
  for (let c = 0; c < columns; c++) sum = Math.fround(sum + value(batch, row, c));
  return sum;
}

// ---- chunking ---------------------------------------------------------------------------------

// Cuts bytes into slices of at most maxChunk bytes. The sizes vary (full, 3, full - 5, 1, ...)
// so that cuts land inside the 8-byte message prefixes and flatbuffer metadata too, which the
// contract allows ("a chunk may end anywhere").
function* cut(bytes, maxChunk) {
  const pattern = [maxChunk, 3, maxChunk - 5, 1, maxChunk, 8];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = Math.min(pattern[i % pattern.length], bytes.length - offset);
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

function concat(chunks) {
  // A fresh buffer at offset 0, so every Arrow body buffer lands 8-byte aligned.
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

// ---- gRPC -------------------------------------------------------------------------------------

function loadService(protoDir, target) {
  const definition = protoLoader.loadSync('predict/v1/predict.proto', {
    includeDirs: [protoDir],
    keepCase: true, // field names as in the .proto (arrow_ipc, input_schema)
    longs: String,
    enums: String,
    defaults: true, // proto3 defaults present (empty version, empty bytes, empty lists)
    oneofs: true, // sets `kind` to the name of the oneof member that is set
  });
  const pkg = grpc.loadPackageDefinition(definition);
  const Service = pkg.predictgrpc.v1.PredictionService;
  check(Service, 'predictgrpc.v1.PredictionService not in the loaded proto');
  return new Service(target, grpc.credentials.createInsecure(), {
    // Outputs come back as one IPC message per batch chunked to <= 1 MiB by default; allow some
    // headroom over grpc-js's 4 MiB default for the unary responses.
    'grpc.max_receive_message_length': 16 << 20,
  });
}

const deadline = (seconds) => new Date(Date.now() + seconds * 1000);

function unary(client, method, request, seconds) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline(seconds) }, (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

async function expectStatus(promise, code, messageIncludes, what) {
  try {
    await promise;
  } catch (err) {
    check(err.code === code,
      () => `${what}: status ${err.code} (${err.details}), expected ${code}`);
    check(err.details.includes(messageIncludes),
      () => `${what}: message "${err.details}" does not mention "${messageIncludes}"`);
    return { code: err.code, message: err.details };
  }
  throw new Error(`check failed: ${what} succeeded, expected status ${code}`);
}

// One PredictStream call: header, then `input` cut into chunks, then half-close; reads the
// response concurrently. Resolves with { header, chunks: [Buffer], stats }.
function predictStream(client, { header, input, maxChunk, chunkFirst = false }, seconds) {
  return new Promise((resolve, reject) => {
    const call = client.PredictStream({ deadline: deadline(seconds) });
    const chunks = [];
    let responseHeader = null;
    let protocolError = null;
    let messages = 0;
    let largestChunk = 0;
    let sentChunks = 0;
    let drains = 0;
    let firstOutputAfterSentChunks = null;

    call.on('data', (msg) => {
      messages++;
      if (messages === 1) {
        if (msg.kind !== 'header') protocolError ??= `first response message is ${msg.kind}, not header`;
        responseHeader = msg.header;
      } else if (msg.kind !== 'chunk') {
        protocolError ??= `response message ${messages} is ${msg.kind}, not chunk`;
      } else {
        if (chunks.length === 1) firstOutputAfterSentChunks = sentChunks; // chunk 0 is the schema
        chunks.push(msg.chunk);
        largestChunk = Math.max(largestChunk, msg.chunk.length);
      }
    });
    call.on('error', reject); // any non-OK status
    call.on('end', () => {
      if (protocolError) reject(new Error(`check failed: ${protocolError}`));
      else resolve({ header: responseHeader, chunks, stats: { sentChunks, drains, largestChunk, firstOutputAfterSentChunks } });
    });

    // Writes with backpressure: grpc-js's duplex returns false when its buffer is full.
    (async () => {
      const write = (msg) => new Promise((res) => {
        if (call.write(msg)) res();
        else { drains++; call.once('drain', res); }
      });
      if (!chunkFirst) await write({ header });
      for (const piece of cut(input, maxChunk)) {
        await write({ chunk: piece });
        sentChunks++;
      }
      call.end(); // half-close: the end of the input
    })().catch((err) => { call.cancel(); reject(err); });
  });
}

// ---- checks -----------------------------------------------------------------------------------

function checkScores(outBatches, rowsPerBatch, columns, what) {
  check(outBatches.length === rowsPerBatch.length,
    () => `${what}: ${outBatches.length} output batches for ${rowsPerBatch.length} input batches`);
  let checksum = 0;
  outBatches.forEach((batch, b) => {
    check(batch.numRows === rowsPerBatch[b],
      () => `${what}: output batch ${b} has ${batch.numRows} rows, input batch had ${rowsPerBatch[b]}`);
    check(batch.schema.fields.length === 1 && batch.schema.fields[0].name === 'score',
      () => `${what}: output schema ${batch.schema.fields.map((f) => f.name)}`);
    check(batch.schema.fields[0].type.typeId === Type.Float
      && batch.schema.fields[0].type.precision === new Float32().precision,
      () => `${what}: score is ${batch.schema.fields[0].type}, expected Float32`);
    const scores = batch.getChildAt(0).toArray(); // Float32Array
    for (let r = 0; r < batch.numRows; r++) {
      const expected = rowSum(b, r, columns);
      if (scores[r] !== expected) {
        throw new Error(`check failed: ${what}: batch ${b} row ${r}: score ${scores[r]}, expected ${expected}`);
      }
      checksum += scores[r];
    }
  });
  return checksum;
}

function checkEcho(outBatches, rowsPerBatch, columns, what) {
  check(outBatches.length === rowsPerBatch.length,
    () => `${what}: ${outBatches.length} output batches for ${rowsPerBatch.length} input batches`);
  let checksum = 0;
  outBatches.forEach((batch, b) => {
    check(batch.numRows === rowsPerBatch[b],
      () => `${what}: output batch ${b} has ${batch.numRows} rows, input batch had ${rowsPerBatch[b]}`);
    const names = batch.schema.fields.map((f) => f.name).join(',');
    const expectedNames = Array.from({ length: columns }, (_, c) => columnName(c)).join(',');
    check(names === expectedNames, () => `${what}: columns ${names}, expected ${expectedNames}`);
    for (let c = 0; c < columns; c++) {
      check(batch.schema.fields[c].type.typeId === Type.Float, () => `${what}: column ${c} type`);
      const values = batch.getChildAt(c).toArray();
      check(values instanceof Float32Array, () => `${what}: column ${c} is not float32`);
      for (let r = 0; r < batch.numRows; r++) {
        if (values[r] !== value(b, r, c)) {
          throw new Error(`check failed: ${what}: batch ${b} row ${r} column ${c}: ${values[r]}, expected ${value(b, r, c)}`);
        }
        checksum += values[r];
      }
    }
  });
  return checksum;
}

// The compression each RecordBatch message of an IPC stream declares ('none' when it has none).
function declaredCompression(bytes) {
  const declared = new Set();
  const messages = new MessageReader(bytes);
  for (let r = messages.next(); !r.done; r = messages.next()) {
    messages.readMessageBody(Number(r.value.bodyLength));
    if (r.value.isRecordBatch()) {
      const compression = r.value.header().compression;
      declared.add(compression ? CompressionType[compression.type] : 'none');
    }
  }
  return declared;
}

function decodeBatches(bytes) {
  const reader = RecordBatchReader.from(bytes).open();
  const schema = reader.schema; // read before iterating: the reader resets at the end
  const batches = [...reader];
  check(schema, 'the output stream has no schema');
  // apache-arrow's reader yields one placeholder empty batch for a stream that holds no batch, so
  // count the RecordBatch messages themselves.
  const messages = new MessageReader(bytes);
  let recordBatches = 0;
  for (let r = messages.next(); !r.done; r = messages.next()) {
    messages.readMessageBody(Number(r.value.bodyLength));
    if (r.value.isRecordBatch()) recordBatches++;
  }
  if (recordBatches === 0 && batches.length === 1 && batches[0].numRows === 0) batches.pop();
  check(batches.length === recordBatches,
    () => `decoded ${batches.length} batches from ${recordBatches} RecordBatch messages`);
  return { schema, batches };
}

// An encapsulated IPC Schema message (ModelMetadata.input_schema) is a stream prefix: add the
// end-of-stream marker and apache-arrow reads it as a stream with a schema and no batch.
function decodeSchemaMessage(bytes) {
  // The Arrow encapsulated message format: continuation marker, int32 metadata length, flatbuffer.
  check(bytes.length >= 8 && bytes.readUInt32LE(0) === 0xffffffff
    && bytes.readInt32LE(4) + 8 === bytes.length,
    () => `schema bytes are not one encapsulated IPC message: ${bytes.subarray(0, 8).toString('hex')}..., ${bytes.length} bytes`);
  const eos = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  return tableFromIPC(concat([bytes, eos])).schema;
}

// The first message (the Schema) of an IPC stream, then the end-of-stream marker: a complete
// stream with no batch.
function schemaOnly(ipc) {
  const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  check(view.getUint32(0, true) === 0xffffffff, 'IPC stream starts with the continuation marker');
  const metadataLength = view.getInt32(4, true); // padded to 8 by the writer
  const eos = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  return concat([ipc.subarray(0, 8 + metadataLength), eos]);
}

function describeType(type) {
  // The FieldInfo.type strings for the types this test uses.
  if (type.typeId === Type.Float) return `FloatingPoint(${['HALF', 'SINGLE', 'DOUBLE'][type.precision]})`;
  return String(type);
}

// ---- the run ----------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv);
  const client = loadService(args.protoDir, args.target);
  const summary = {};
  const started = Date.now();

  const table = buildTable(args.rows, args.columns);
  check(table.batches.length === args.rows.length, 'table batch count');
  const ipc = tableToIPC(table, 'stream');
  summary.input = {
    batches: table.batches.length,
    rows: table.numRows,
    columns: args.columns,
    ipcBytes: ipc.length,
    chunks: [...cut(ipc, args.maxChunk)].length,
    maxChunk: args.maxChunk,
  };
  check(Math.max(...[...cut(ipc, args.maxChunk)].map((c) => c.length)) <= args.maxChunk, 'chunk size');

  // 1. PredictStream through row-sum, no version: "10" must answer (numeric order, "10" > "9").
  {
    const res = await predictStream(client, {
      header: { model: { name: 'row-sum' }, parameters: { note: 'from node' } },
      input: ipc, maxChunk: args.maxChunk,
    }, args.deadlineSeconds);
    check(res.header && res.header.model.name === 'row-sum',
      () => `stream header names ${JSON.stringify(res.header)}`);
    check(res.header.model.version === '10', () => `row-sum answered as version "${res.header.model.version}", expected "10"`);
    const { schema, batches } = decodeBatches(concat(res.chunks));
    check(schema.fields.length === 1, 'row-sum output schema');
    const checksum = checkScores(batches, args.rows, args.columns, 'PredictStream row-sum');
    summary.stream = {
      model: `${res.header.model.name}@${res.header.model.version}`,
      batches: batches.length,
      rows: batches.reduce((n, b) => n + b.numRows, 0),
      checksum,
      responseChunks: res.chunks.length,
      largestResponseChunk: res.stats.largestChunk,
      sentChunks: res.stats.sentChunks,
      writeStalls: res.stats.drains,
      // How many input chunks had been handed to grpc-js when the first output batch arrived
      // (informational: results come back while the input is still being sent).
      firstOutputAfterSentChunks: res.stats.firstOutputAfterSentChunks,
    };
  }

  // 2. PredictStream through echo, version named explicitly: identical values back.
  {
    const res = await predictStream(client, {
      header: { model: { name: 'echo', version: '1' } }, input: ipc, maxChunk: args.maxChunk,
    }, args.deadlineSeconds);
    check(res.header.model.name === 'echo' && res.header.model.version === '1',
      () => `echo header ${JSON.stringify(res.header)}`);
    const { batches } = decodeBatches(concat(res.chunks));
    const checksum = checkEcho(batches, args.rows, args.columns, 'PredictStream echo');
    summary.echo = {
      batches: batches.length,
      rows: batches.reduce((n, b) => n + b.numRows, 0),
      checksum,
      responseChunks: res.chunks.length,
    };
  }

  // 2b. PredictStream echo asking for compressed output, in each codec, the input LZ4-compressed by
  // apache-arrow's own writer: the same values back, and every output batch declares the codec.
  summary.compressed = {};
  const compressedInput = RecordBatchStreamWriter
    .writeAll(table, { compressionType: CompressionType.LZ4_FRAME }).toUint8Array(true);
  // These float32 values hardly compress, so the writer may store buffers raw (length -1); the
  // batches still declare LZ4_FRAME, and the server must read them as such.
  const inputDeclared = declaredCompression(compressedInput);
  check(inputDeclared.size === 1 && inputDeclared.has('LZ4_FRAME'),
    () => `apache-arrow wrote input batches declaring ${[...inputDeclared]}`);
  for (const codec of ['LZ4_FRAME', 'ZSTD']) {
    const res = await predictStream(client, {
      header: { model: { name: 'echo' }, output_compression: `BODY_COMPRESSION_CODEC_${codec}` },
      input: compressedInput, maxChunk: args.maxChunk,
    }, args.deadlineSeconds);
    const bytes = concat(res.chunks);
    const declared = declaredCompression(bytes);
    check(declared.size === 1 && declared.has(codec),
      () => `echo asked for ${codec}: output batches declare ${[...declared]}`);
    const { batches } = decodeBatches(bytes);
    const checksum = checkEcho(batches, args.rows, args.columns, `PredictStream echo ${codec}`);
    summary.compressed[codec] = {
      rows: batches.reduce((n, b) => n + b.numRows, 0),
      checksum,
      declared: [...declared],
    };
  }

  // 3. PredictStream with no input: header, then half-close, no chunk. The answer is a header and
  //    an output stream with no batch, whose schema is the model's declared output schema, or a
  //    schema with no fields when the model declares none (no batch was scored to learn it from).
  {
    const empty = async (model) => {
      const res = await predictStream(client, {
        header: { model }, input: new Uint8Array(0), maxChunk: args.maxChunk,
      }, args.deadlineSeconds);
      check(res.header.model.name === model.name, () => `empty ${model.name}: header ${JSON.stringify(res.header)}`);
      const { schema, batches } = decodeBatches(concat(res.chunks));
      check(batches.length === 0, () => `empty input to ${model.name} gave ${batches.length} batches`);
      return { version: res.header.model.version, fields: schema.fields.map((f) => f.name), responseChunks: res.chunks.length };
    };
    const undeclared = await empty({ name: 'row-sum', version: '9' });
    check(undeclared.version === '9', () => `row-sum@9 answered as ${undeclared.version}`);
    check(undeclared.fields.length === 0, () => `row-sum declares no output schema, got ${undeclared.fields}`);
    const declared = await empty({ name: 'sum-ab' });
    check(declared.fields.join() === 'score', () => `sum-ab empty output schema ${declared.fields}`);
    summary.emptyStream = { undeclared, declared };
  }

  // 4. Unary Predict: a small two-batch table (3 rows, then 2), row-sum then echo.
  {
    const small = tableToIPC(buildTable([3, 2], 2), 'stream');
    const res = await unary(client, 'Predict',
      { model: { name: 'row-sum' }, arrow_ipc: small }, args.deadlineSeconds);
    check(res.model.name === 'row-sum' && res.model.version === '10',
      () => `Predict answered by ${JSON.stringify(res.model)}`);
    const { batches } = decodeBatches(concat([res.arrow_ipc]));
    const checksum = checkScores(batches, [3, 2], 2, 'Predict row-sum');
    const echoed = await unary(client, 'Predict',
      { model: { name: 'echo' }, arrow_ipc: small }, args.deadlineSeconds);
    checkEcho(decodeBatches(concat([echoed.arrow_ipc])).batches, [3, 2], 2, 'Predict echo');
    // A request with a schema and no batch: a response with an output schema and no batch.
    const noBatch = async (name, columns) => {
      const res = await unary(client, 'Predict',
        { model: { name }, arrow_ipc: schemaOnly(tableToIPC(buildTable([1], columns), 'stream')) },
        args.deadlineSeconds);
      const decoded = decodeBatches(concat([res.arrow_ipc]));
      check(decoded.batches.length === 0, () => `Predict(${name}, no batch) gave ${decoded.batches.length} batches`);
      return decoded.schema.fields.map((f) => f.name);
    };
    const noBatchFields = { undeclared: await noBatch('row-sum', 2), declared: await noBatch('sum-ab', 2) };
    check(noBatchFields.undeclared.length === 0, () => `row-sum, no batch: fields ${noBatchFields.undeclared}`);
    check(noBatchFields.declared.join() === 'score', () => `sum-ab, no batch: fields ${noBatchFields.declared}`);
    summary.unary = {
      noBatchFields,
      model: `${res.model.name}@${res.model.version}`,
      batches: batches.length,
      rows: batches.reduce((n, b) => n + b.numRows, 0),
      checksum,
      scores: batches.flatMap((b) => Array.from(b.getChildAt(0).toArray())),
    };
  }

  // 5. ListModels: sorted by name, versions oldest first.
  {
    const res = await unary(client, 'ListModels', {}, args.deadlineSeconds);
    summary.models = res.models.map((m) => ({ name: m.name, versions: m.versions, description: m.description }));
    const names = res.models.map((m) => m.name);
    check(JSON.stringify(names) === JSON.stringify([...names].sort()), () => `models not sorted: ${names}`);
    const rowSumModel = res.models.find((m) => m.name === 'row-sum');
    check(rowSumModel && JSON.stringify(rowSumModel.versions) === '["9","10"]',
      () => `row-sum versions ${JSON.stringify(rowSumModel?.versions)}, expected ["9","10"]`);
  }

  // 6. GetModelMetadata: sum-ab declares its schemas; decode the IPC schema bytes with apache-arrow
  //    and compare them with the readable fields. row-sum declares none: empty bytes.
  {
    const res = await unary(client, 'GetModelMetadata', { model: { name: 'sum-ab' } }, args.deadlineSeconds);
    check(res.model.name === 'sum-ab' && res.model.version === '1', () => `metadata for ${JSON.stringify(res.model)}`);
    check(res.input_schema.length > 0, 'sum-ab input_schema is empty');
    const inputSchema = decodeSchemaMessage(res.input_schema);
    const outputSchema = decodeSchemaMessage(res.output_schema);
    const fromBytes = (schema) => schema.fields.map((f) => ({ name: f.name, type: describeType(f.type), nullable: f.nullable }));
    const fromInfo = (fields) => fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable }));
    check(JSON.stringify(fromBytes(inputSchema)) === JSON.stringify(fromInfo(res.input_fields)),
      () => `input_schema ${JSON.stringify(fromBytes(inputSchema))} != input_fields ${JSON.stringify(fromInfo(res.input_fields))}`);
    check(JSON.stringify(fromBytes(outputSchema)) === JSON.stringify(fromInfo(res.output_fields)),
      () => `output_schema ${JSON.stringify(fromBytes(outputSchema))} != output_fields ${JSON.stringify(fromInfo(res.output_fields))}`);
    const rowSumMeta = await unary(client, 'GetModelMetadata', { model: { name: 'row-sum' } }, args.deadlineSeconds);
    check(rowSumMeta.model.version === '10', 'row-sum metadata version');
    check(rowSumMeta.input_schema.length === 0 && rowSumMeta.input_fields.length === 0,
      'row-sum declares no input schema');
    summary.metadata = {
      model: `${res.model.name}@${res.model.version}`,
      description: res.description,
      input: fromBytes(inputSchema),
      output: fromBytes(outputSchema),
    };
  }

  // 7. Errors.
  summary.errors = {};
  summary.errors.predictUnknownModel = await expectStatus(
    unary(client, 'Predict', { model: { name: 'no-such-model' }, arrow_ipc: tableToIPC(buildTable([1], 1), 'stream') }, args.deadlineSeconds),
    grpc.status.NOT_FOUND, 'no-such-model', 'Predict(no-such-model)');
  summary.errors.metadataUnknownVersion = await expectStatus(
    unary(client, 'GetModelMetadata', { model: { name: 'row-sum', version: '11' } }, args.deadlineSeconds),
    grpc.status.NOT_FOUND, '11', 'GetModelMetadata(row-sum@11)');
  summary.errors.streamUnknownModel = await expectStatus(
    predictStream(client, { header: { model: { name: 'no-such-model' } }, input: ipc.subarray(0, 1000), maxChunk: args.maxChunk }, args.deadlineSeconds),
    grpc.status.NOT_FOUND, 'no-such-model', 'PredictStream(no-such-model)');
  summary.errors.streamChunkFirst = await expectStatus(
    predictStream(client, { header: null, input: ipc.subarray(0, 1000), maxChunk: args.maxChunk, chunkFirst: true }, args.deadlineSeconds),
    grpc.status.INVALID_ARGUMENT, '', 'PredictStream(chunk before header)');
  summary.errors.streamCutInsideMessage = await expectStatus(
    predictStream(client, { header: { model: { name: 'echo' } }, input: ipc.subarray(0, ipc.length - 100), maxChunk: args.maxChunk }, args.deadlineSeconds),
    grpc.status.INVALID_ARGUMENT, '', 'PredictStream(half-close inside a message)');
  summary.errors.wrongSchema = await expectStatus(
    unary(client, 'Predict', { model: { name: 'sum-ab' }, arrow_ipc: tableToIPC(buildTable([2], 3), 'stream') }, args.deadlineSeconds),
    grpc.status.INVALID_ARGUMENT, '', 'Predict(sum-ab, columns a b c)');

  client.close();
  summary.millis = Date.now() - started;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
