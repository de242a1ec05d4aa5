"""Codec benchmark: decoder throughput and pseudo-terminal round-trip latency.

    python benchmarks/codec.py [--megabytes 10] [--round-trips 2000]

Throughput: a stream of ``--megabytes`` MB where about 70 % of the bytes are valid frames and
the rest random garbage, fed in random chunks of 1–4096 bytes; prints frames/s and MB/s.
Latency: a client opens the slave side of a pty with pyserial (as any program would) and
sends one 4-byte request; a responder thread on the master side answers with one 4-byte
frame; prints p50/p99 of the full request→reply time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

import serial

from protocols.links import PtyPair
from protocols.mspa import Command, FrameDecoder, encode


def build_stream(megabytes: float, seed: int = 1) -> tuple[bytes, int]:
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    parts: list[bytes] = []
    size = 0
    frames = 0
    frame_pool = [encode(c, p) for c in range(0x01, 0x17) for p in range(256)]
    while size < target:
        if rng.random() < 0.7:
            block = b"".join(rng.choices(frame_pool, k=64))
            frames += 64
        else:
            block = rng.randbytes(rng.randint(1, 256)).replace(b"\xa5", b"\x00")
        parts.append(block)
        size += len(block)
    return b"".join(parts), frames


def bench_throughput(megabytes: float) -> None:
    stream, frames_in = build_stream(megabytes)
    rng = random.Random(2)
    chunks = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 4096)
        chunks.append(stream[i : i + n])
        i += n
    decoder = FrameDecoder()
    started = time.perf_counter()
    decoded = 0
    for chunk in chunks:
        decoded += len(decoder.feed(chunk))
    elapsed = time.perf_counter() - started
    counters = decoder.counters
    megabytes_decoded = len(stream) / 1e6
    print(
        f"decode: {megabytes_decoded:.1f} MB, {decoded:,} frames ({frames_in:,} embedded) in "
        f"{elapsed:.2f} s → {decoded / elapsed:,.0f} frames/s, "
        f"{megabytes_decoded / elapsed:.1f} MB/s "
        f"(bad sums {counters.bad_checksums}, discarded {counters.discarded_bytes:,} B)"
    )


def bench_pty_latency(round_trips: int) -> None:
    request = encode(Command.KEEPALIVE, 0x00)
    reply = encode(Command.KEEPALIVE, 0x86)
    stop = threading.Event()
    with PtyPair() as pty:

        def responder() -> None:
            decoder = FrameDecoder()
            while not stop.is_set():
                for _ in decoder.feed(pty.link.read(0.05)):
                    pty.link.write(reply)

        thread = threading.Thread(target=responder, daemon=True)
        thread.start()
        client = serial.Serial(pty.path, 9600, timeout=1.0)
        samples = []
        try:
            for _ in range(round_trips):
                started = time.perf_counter()
                client.write(request)
                got = b""
                while len(got) < 4:
                    got += client.read(4 - len(got))
                samples.append(time.perf_counter() - started)
                assert got == reply, got
        finally:
            stop.set()
            client.close()
            thread.join(1)
    samples.sort()
    p50 = statistics.median(samples) * 1e3
    p99 = samples[int(len(samples) * 0.99) - 1] * 1e3
    print(
        f"pty round trip: {round_trips} request/reply pairs, p50 {p50:.3f} ms, p99 {p99:.3f} ms "
        f"(a 9600-baud line would add 2 × {40 / 9600 * 1e3:.2f} ms of wire time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args()
    bench_throughput(args.megabytes)
    bench_pty_latency(args.round_trips)


if __name__ == "__main__":
    main()
