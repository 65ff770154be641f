#!/usr/bin/env python3
"""Writes remote_write_fuzz's seeds (corpus_remote_write/) from the cases of tests/unit/scraper/
remote_write_test.cpp, laid out as FuzzedDataProvider reads them: strings from the front (a backslash
followed by anything but a backslash ends one), integers from the back (little-endian, the first one
consumed last in the file). Run from anywhere: python3 tests/fuzz/remote_write_seeds.py"""
import math
import os
import struct

STALE_NAN = 0x7FF0000000000002


class Seed:
    def __init__(self):
        self.front = bytearray()
        self.back = []  # integer chunks in consumption order

    def string(self, s):
        self.front += s.encode().replace(b"\\", b"\\\\") + b"\\ "

    def integer(self, value, nbytes):
        self.back.append(value.to_bytes(nbytes, "little"))

    def bytes(self):
        out = bytearray(self.front)
        for chunk in reversed(self.back):
            out += chunk
        return bytes(out)


def bits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def seed(external, builder, series):
    """series: (labels, pad or 0, t, value bits)"""
    s = Seed()
    s.integer(len(external), 1)  # ConsumeIntegralInRange(0, 4)
    for name, value in external:
        s.string(name)
        s.string(value)
    s.integer(1 if builder else 0, 1)  # ConsumeBool
    s.integer(len(series), 1)  # ConsumeIntegralInRange(0, 32)
    for labels, pad, t, v in series:
        s.integer(len(labels), 1)  # ConsumeIntegralInRange(0, 8)
        for name, value in labels:
            s.string(name)
            s.string(value)
        s.integer(0 if pad else 1, 1)  # ConsumeIntegralInRange(0, 7) == 0: a pad label
        if pad:
            s.integer(pad - 1, 2)  # ConsumeIntegralInRange<size_t>(1, 17000)
        s.integer((t + (1 << 63)) % (1 << 64), 8)  # ConsumeIntegral<int64_t>
        s.integer(v, 8)  # ConsumeIntegral<uint64_t>
    return s.bytes()


a = [("__name__", "up"), ("job", "node")]
b = [("__name__", "node_load1"), ("instance", "h:9100")]
seeds = {
    "empty": seed([], False, []),
    "in_order": seed([], False, [(b, 0, 1000, bits(1.5)), (a, 0, 1000, bits(1.0)), (b, 0, 2000, bits(2.5)),
                                 (a, 0, 2000, bits(0.0))]),
    "special_values": seed([], False, [([("__name__", "x")], 0, t, v) for t, v in [
        (-1, STALE_NAN), (-(1 << 63), bits(math.nan)), (0, bits(math.inf)), (1, bits(-math.inf)),
        ((1 << 63) - 1, bits(-0.0)), (-86_400_000, bits(0.0)), (1_700_000_000_000, 1), (2, bits(-1e308))]]),
    "external_labels": seed([("zone", "ext-z"), ("cluster", "ext"), ("a_first", "1"), ("region", "eu")], True,
                            [([("__name__", "up"), ("cluster", "own"), ("job", "j")], 0, 1, bits(1.0)),
                             ([("__name__", "up"), ("zone", "z9")], 0, 1, bits(2.0))]),
    "varint_boundaries": seed([("Aaa", "before all"), ("cluster", "prod-eu-west-1"), ("replica", "r0")], True,
                              [([("__name__", "m"), ("cluster", "c")], pad, pad, bits(pad / 3))
                               for pad in (100, 110, 16340, 16360, 16370)]),
    "unicode": seed([], False, [([("__name__", "http_requests_total"), ("path", "/ünïcödé/✓"),
                                  ("le", "+Inf"), ("quote", 'a"b\\c\nd')], 0, 1_700_000_000_000,
                                 bits(42.0))]),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus_remote_write")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
