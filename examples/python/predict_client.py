#!/usr/bin/env python3
"""A minimal Python client for predict-grpc (service predictgrpc.v1.PredictionService).

Generate the stubs first, in this directory:

    pip install grpcio grpcio-tools pyarrow
    python -m grpc_tools.protoc -I ../../predict-api/src/main/proto \
        --python_out=. --grpc_python_out=. predict/v1/predict.proto

Then, with a server running (see ../../README.md):

    python predict_client.py list
    python predict_client.py metadata --model iris
    python predict_client.py predict  --model iris     # scores 3 iris rows built with pyarrow
    python predict_client.py stream   --model iris     # the same through PredictStream

Inputs and outputs are Arrow IPC *stream* bytes. With pyarrow installed the script builds the
input table itself and prints the output table. Without pyarrow, pass a ready-made IPC stream
with --ipc-file (e.g. written by pyarrow.ipc.new_stream, apache-arrow's tableToIPC(t, "stream")
or Java's ArrowStreamWriter); the script then prints byte counts and can save the answer with
--out.
"""
import argparse
import sys

import grpc

from predict.v1 import predict_pb2, predict_pb2_grpc

try:
    import pyarrow as pa
except ImportError:  # the script still works with --ipc-file
    pa = None

CHUNK_BYTES = 1 << 20  # keep PredictStream chunks at or under 1 MiB
ARROW_CONTINUATION = b"\xff\xff\xff\xff"


def iris_table():
    """Three iris rows: the four float32 columns the bundled iris model expects."""
    f32 = pa.float32()
    return pa.table({
        "sepal_length": pa.array([5.1, 6.7, 6.3], f32),
        "sepal_width": pa.array([3.5, 3.0, 3.3], f32),
        "petal_length": pa.array([1.4, 5.2, 6.0], f32),
        "petal_width": pa.array([0.2, 2.3, 2.5], f32),
    })


def to_ipc(table):
    """A pyarrow Table as Arrow IPC stream bytes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data):
    """Arrow IPC stream bytes as a pyarrow Table."""
    return pa.ipc.open_stream(data).read_all()


def input_bytes(args):
    if args.ipc_file:
        with open(args.ipc_file, "rb") as f:
            return f.read()
    if pa is None:
        sys.exit("pyarrow is not installed: pass an Arrow IPC stream file with --ipc-file")
    return to_ipc(iris_table())


def stream_requests(model, ipc, chunk_bytes):
    """The PredictStream requests: the header first, then the IPC bytes in chunks."""
    yield predict_pb2.PredictStreamRequest(header=predict_pb2.StreamHeader(model=model))
    for i in range(0, len(ipc), chunk_bytes):
        yield predict_pb2.PredictStreamRequest(chunk=ipc[i:i + chunk_bytes])


def show_output(data, args):
    print(f"output: {len(data)} bytes of Arrow IPC, starts with continuation marker: "
          f"{data[:4] == ARROW_CONTINUATION}")
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
        print(f"wrote {args.out}")
    if pa is not None:
        print(from_ipc(data))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["list", "metadata", "predict", "stream"])
    p.add_argument("--target", default="localhost:8980")
    p.add_argument("--model", default="iris")
    p.add_argument("--version", default="", help="empty: the latest version")
    p.add_argument("--ipc-file", help="input Arrow IPC stream file (instead of the pyarrow demo table)")
    p.add_argument("--out", help="write the output Arrow IPC stream to this file")
    p.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES)
    p.add_argument("--timeout", type=float,
                   help="deadline in seconds (default: 30 for unary calls, none for stream)")
    args = p.parse_args()
    if args.timeout is None and args.command != "stream":
        args.timeout = 30.0

    model = predict_pb2.ModelSpec(name=args.model, version=args.version)
    with grpc.insecure_channel(args.target) as channel:
        stub = predict_pb2_grpc.PredictionServiceStub(channel)
        try:
            if args.command == "list":
                for m in stub.ListModels(predict_pb2.ListModelsRequest(), timeout=args.timeout).models:
                    print(f"{m.name} versions={list(m.versions)} {m.description}")
            elif args.command == "metadata":
                md = stub.GetModelMetadata(
                    predict_pb2.GetModelMetadataRequest(model=model), timeout=args.timeout)
                print(f"{md.model.name}:{md.model.version} {md.description}")
                for f in md.input_fields:
                    print(f"  in  {f.name}: {f.type}")
                for f in md.output_fields:
                    print(f"  out {f.name}: {f.type}")
                if pa is not None and md.input_schema:
                    print(pa.ipc.read_schema(pa.py_buffer(md.input_schema)))
            elif args.command == "predict":
                ipc = input_bytes(args)
                print(f"input: {len(ipc)} bytes of Arrow IPC")
                resp = stub.Predict(
                    predict_pb2.PredictRequest(model=model, arrow_ipc=ipc), timeout=args.timeout)
                print(f"answered by {resp.model.name}:{resp.model.version}")
                show_output(resp.arrow_ipc, args)
            else:  # stream
                ipc = input_bytes(args)
                print(f"input: {len(ipc)} bytes of Arrow IPC in "
                      f"{-(-len(ipc) // args.chunk_bytes)} chunk(s)")
                responses = stub.PredictStream(
                    stream_requests(model, ipc, args.chunk_bytes), timeout=args.timeout)
                # gRPC sends the request generator on its own thread, so reading here runs
                # concurrently with the upload. The first response is the header.
                first = next(responses)
                if first.WhichOneof("kind") != "header":
                    sys.exit("protocol error: the first response is not the header")
                print(f"answered by {first.header.model.name}:{first.header.model.version}")
                chunks = [r.chunk for r in responses]
                print(f"received {len(chunks)} chunk(s)")
                show_output(b"".join(chunks), args)
        except grpc.RpcError as e:
            sys.exit(f"{e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
