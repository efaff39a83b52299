#!/usr/bin/env python3
"""A Genloom client written from proto/src/main/proto/genloom/v1/*.proto alone.

Message classes come from `protoc --python_out`; RPCs are invoked through grpcio's generic
channel methods by their full names, so no Genloom code is involved.

    python3 clients/python/genloom_client.py --target localhost:50051 list
    python3 clients/python/genloom_client.py --target localhost:50051 generate \
        --model tiny-ldm --prompt "a red circle on a blue background" --out red.png
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto", "src", "main", "proto")


def load_messages():
    """Compiles the .proto files with protoc into a temporary package and imports them."""
    out = tempfile.mkdtemp(prefix="genloom-proto-")
    files = [os.path.join("genloom", "v1", f) for f in ("model.proto", "generation.proto", "run.proto")]
    subprocess.run(["protoc", f"--proto_path={PROTO_ROOT}", f"--python_out={out}", *files], check=True)
    sys.path.insert(0, out)
    from genloom.v1 import generation_pb2, model_pb2  # noqa: E402  (generated above)
    return generation_pb2, model_pb2


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="localhost:50051")
    p.add_argument("--token", help="bearer token, if the worker requires one")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("health")
    sub.add_parser("list")
    g = sub.add_parser("generate")
    g.add_argument("--model", required=True)
    g.add_argument("--prompt", required=True)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--steps", type=int, default=0)
    g.add_argument("--out", required=True)
    a = p.parse_args()

    import grpc
    pb, model_pb = load_messages()
    channel = grpc.insecure_channel(a.target, options=[("grpc.max_receive_message_length", 64 << 20)])
    metadata = [("authorization", f"Bearer {a.token}")] if a.token else None
    service = "/genloom.v1.GenerationService/"

    if a.command == "health":
        grpc.channel_ready_future(channel).result(timeout=60)
        print("connected")
        return 0
    if a.command == "list":
        call = channel.unary_unary(service + "ListModels",
                                   request_serializer=pb.ListModelsRequest.SerializeToString,
                                   response_deserializer=pb.ListModelsResponse.FromString)
        for m in call(pb.ListModelsRequest(), metadata=metadata, timeout=60).models:
            print(m.name, model_pb.ModelKind.Name(m.kind))
        return 0
    call = channel.unary_stream(service + "Generate",
                                request_serializer=pb.GenerateRequest.SerializeToString,
                                response_deserializer=pb.GenerateEvent.FromString)
    request = pb.GenerateRequest(model=a.model, prompt=a.prompt, seed=a.seed, steps=a.steps)
    chunks, stats = [], None
    for event in call(request, metadata=metadata, timeout=300):
        kind = event.WhichOneof("event")
        if kind == "queued":
            print(f"queued at position {event.queued.position}")
        elif kind == "progress":
            print(f"step {event.progress.step}/{event.progress.total_steps}", end="\r")
        elif kind == "result":
            chunks.append(event.result.media[0].data)
            if event.result.chunk_index == event.result.chunk_count - 1:
                stats = event.result.stats
                mime = event.result.media[0].mime_type
    with open(a.out, "wb") as f:
        f.write(b"".join(chunks))
    print(f"\nwrote {a.out} ({mime}, {sum(map(len, chunks))} bytes, "
          f"{stats.block_evals} block evaluations, worker {stats.worker})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
