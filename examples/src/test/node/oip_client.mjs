// An Open Inference Protocol client in Node.js (@grpc/grpc-js + @grpc/proto-loader), reading the
// canonical open_inference_grpc.proto as any KServe or Triton user would; nothing in it knows
// predict-grpc. OpenInferenceNodeClientTest runs it against a Java PredictServer hosting the
// bundled iris ONNX model with the protocol enabled:
//
//   node oip_client.mjs --target 127.0.0.1:PORT --proto-dir ../../../../predict-api/src/main/proto \
//       --rows '[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]'
//
// It checks what it can itself (typed and raw answers agree, shapes, error codes) and exits 1 on
// the first mismatch (the message on stderr); on success it prints one JSON line on stdout, a
// summary the Java test compares with Predict's answers for the same rows.

import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

function parseArgs(argv) {
  const args = { target: null, protoDir: null, rows: null };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    switch (key) {
      case '--target': args.target = value; break;
      case '--proto-dir': args.protoDir = value; break;
      case '--rows': args.rows = JSON.parse(value); break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  if (!args.target || !args.protoDir || !args.rows) {
    throw new Error('--target, --proto-dir and --rows are required');
  }
  return args;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const args = parseArgs(process.argv);
const definition = protoLoader.loadSync(
  path.join(args.protoDir, 'inference/open_inference_grpc.proto'),
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
);
const inference = grpc.loadPackageDefinition(definition).inference;
const client = new inference.GRPCInferenceService(args.target, grpc.credentials.createInsecure());

function call(method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 30_000);
    client[method](request, { deadline }, (error, response) => {
      if (error) reject(error); else resolve(response);
    });
  });
}

async function failure(method, request) {
  try {
    await call(method, request);
  } catch (error) {
    return { code: error.code, message: error.details };
  }
  throw new Error(`${method} succeeded but should have failed: ${JSON.stringify(request)}`);
}

const rows = args.rows;
const n = rows.length;
const flat = rows.flat();

function featuresRequest(extra) {
  return {
    model_name: 'iris',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [n, 4], contents: { fp32_contents: flat } }],
    ...extra,
  };
}

async function main() {
  const live = (await call('ServerLive', {})).live;
  const ready = (await call('ServerReady', {})).ready;
  const server = await call('ServerMetadata', {});
  const modelReady = (await call('ModelReady', { name: 'iris' })).ready;
  const unknownReady = (await call('ModelReady', { name: 'no-such-model' })).ready;
  const metadata = await call('ModelMetadata', { name: 'iris' });

  // Typed contents in, typed contents out.
  const typed = await call('ModelInfer', featuresRequest({ id: 'node-1' }));
  check(typed.id === 'node-1', `id echoed: ${typed.id}`);
  check(typed.raw_output_contents.length === 0, 'typed request gets typed outputs');
  const typedLabel = typed.outputs.find((o) => o.name === 'label');
  const typedProbabilities = typed.outputs.find((o) => o.name === 'probabilities');
  check(typedLabel.datatype === 'INT64', `label datatype ${typedLabel.datatype}`);
  check(JSON.stringify(typedLabel.shape) === JSON.stringify([String(n)]), `label shape ${typedLabel.shape}`);
  check(JSON.stringify(typedProbabilities.shape) === JSON.stringify([String(n), '3']),
    `probabilities shape ${typedProbabilities.shape}`);
  const labels = typedLabel.contents.int64_contents.map(Number);
  const probabilities = typedProbabilities.contents.fp32_contents;

  // Raw little-endian contents in, raw contents out, as Triton's clients send them.
  const raw = Buffer.alloc(flat.length * 4);
  flat.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  const rawResponse = await call('ModelInfer', {
    model_name: 'iris',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [n, 4] }],
    raw_input_contents: [raw],
  });
  check(rawResponse.raw_output_contents.length === rawResponse.outputs.length, 'one raw buffer per output');
  const rawLabelBytes = rawResponse.raw_output_contents[rawResponse.outputs.findIndex((o) => o.name === 'label')];
  const rawProbabilityBytes =
    rawResponse.raw_output_contents[rawResponse.outputs.findIndex((o) => o.name === 'probabilities')];
  const rawLabels = [];
  for (let i = 0; i < n; i++) rawLabels.push(Number(rawLabelBytes.readBigInt64LE(i * 8)));
  const rawProbabilities = [];
  for (let i = 0; i < n * 3; i++) rawProbabilities.push(rawProbabilityBytes.readFloatLE(i * 4));
  check(JSON.stringify(rawLabels) === JSON.stringify(labels), `raw labels ${rawLabels} vs ${labels}`);
  check(JSON.stringify(rawProbabilities) === JSON.stringify(probabilities),
    `raw probabilities ${rawProbabilities} vs ${probabilities}`);

  const errors = {
    wrongShape: await failure('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [n, 5], contents: { fp32_contents: new Array(n * 5).fill(1) } }],
    }),
    wrongDatatype: await failure('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'features', datatype: 'FP64', shape: [n, 4], contents: { fp64_contents: flat } }],
    }),
    shortRaw: await failure('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [n, 4] }],
      raw_input_contents: [raw.subarray(0, raw.length - 4)],
    }),
    unknownModel: await failure('ModelInfer', { ...featuresRequest(), model_name: 'no-such-model' }),
    unknownModelMetadata: await failure('ModelMetadata', { name: 'no-such-model' }),
  };

  console.log(JSON.stringify({
    live,
    ready,
    server: server.name,
    modelReady,
    unknownReady,
    metadata: {
      name: metadata.name,
      versions: metadata.versions,
      platform: metadata.platform,
      inputs: metadata.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) })),
      outputs: metadata.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) })),
    },
    labels,
    probabilities,
    errors,
  }));
}

main()
  .then(() => { client.close(); })
  .catch((error) => {
    console.error(error && error.stack ? error.stack : String(error));
    client.close();
    process.exit(1);
  });
