"""The remote-write spool's files, read and damaged on purpose from Python (scraper/spool_format.hpp's layout).

    segment   NNNNNNNNNNNNNNNNNNNN.seg: 16-byte header ("S4SPOOL\\n", u32 version 1, u32 crc32c of bytes 0..12),
              then records back to back
    record    u32 magic 0x713E9AC5, u32 payload length, i64 timestamp ms, u32 crc32c(payload), u8 type,
              u8 flags, u16 reserved, u32 crc32c of header bytes 0..24; then the payload
    position  <reader>.pos: "S4POS\\0\\0\\n", u32 version, u32 name length, u64 segment, u64 offset, name,
              u32 crc32c of all before it

All integers little-endian. segments(dir) finds segment files anywhere under dir (the store of an instance
lives in a subdirectory of --storage.path). payload_samples() decodes a remote-write record's payload
(scraper/spool_codec.hpp: snappy, then version 1 and the scrape's samples).
"""
import os
import struct
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's python3-snappy
import snappy  # noqa: E402

import remote_write_front as rw  # noqa: E402

SEGMENT_MAGIC = b"S4SPOOL\n"
POSITION_MAGIC = b"S4POS\0\0\n"
SEGMENT_HEADER_BYTES = 16
RECORD_HEADER_BYTES = 28
RECORD_MAGIC = 0x713E9AC5
FORMAT_VERSION = 1


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli), the same convention as scraper/crc32c.hpp: crc32c(b"123456789") == 0xE3069283."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class Record:
    """One valid record: its segment's path, [begin, end) in the file, header fields, payload."""
    __slots__ = ("path", "segment", "begin", "end", "length", "timestamp_ms", "type", "payload")

    def __init__(self, path, segment, begin, length, timestamp_ms, rtype, payload):
        self.path, self.segment, self.begin, self.length = path, segment, begin, length
        self.end = begin + RECORD_HEADER_BYTES + length
        self.timestamp_ms, self.type, self.payload = timestamp_ms, rtype, payload

    def __repr__(self):
        return (f"<record {os.path.basename(self.path)}@{self.begin} {self.length} B type {self.type} "
                f"ts {self.timestamp_ms}>")


def segment_seq(name):
    if len(name) == 24 and name.endswith(".seg") and name[:20].isdigit():
        return int(name[:20])
    return None


def segments(directory):
    """Every segment file under directory (recursively): [(path, seq)], by directory then seq."""
    out = []
    for root, _, files in os.walk(directory):
        for f in files:
            seq = segment_seq(f)
            if seq is not None:
                out.append((os.path.join(root, f), seq))
    return sorted(out, key=lambda p: (os.path.dirname(p[0]), p[1]))


def total_bytes(directory):
    """The size of every segment file under directory (0 when there is none)."""
    total = 0
    for path, _ in segments(directory):
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


def parse_header(buf, off):
    """(length, timestamp_ms, payload crc, type) of a valid record header at off, or None."""
    if off + RECORD_HEADER_BYTES > len(buf):
        return None
    magic, length, ts, pcrc, rtype, flags, reserved, hcrc = struct.unpack_from("<IIqIBBHI", buf, off)
    if magic != RECORD_MAGIC or flags or reserved or hcrc != crc32c(buf[off:off + 24]):
        return None
    return length, ts, pcrc, rtype


def read_segment(path):
    """(header ok, [Record], bad stretches [(begin, end)]) of one segment file, scanned as the store does: a
    record whose header holds but whose payload fails its checksum is a bad stretch; after a bad header the
    next offset with a valid header whose payload fits."""
    with open(path, "rb") as f:
        buf = f.read()
    seq = segment_seq(os.path.basename(path))
    header_ok = (len(buf) >= SEGMENT_HEADER_BYTES and buf[:8] == SEGMENT_MAGIC and
                 struct.unpack_from("<I", buf, 8)[0] == FORMAT_VERSION and
                 struct.unpack_from("<I", buf, 12)[0] == crc32c(buf[:12]))
    records, bad = [], []
    off = SEGMENT_HEADER_BYTES
    while off < len(buf):
        h = parse_header(buf, off)
        if h is not None and off + RECORD_HEADER_BYTES + h[0] <= len(buf):
            length, ts, pcrc, rtype = h
            payload = buf[off + RECORD_HEADER_BYTES:off + RECORD_HEADER_BYTES + length]
            if crc32c(payload) == pcrc:
                records.append(Record(path, seq, off, length, ts, rtype, payload))
            else:
                bad.append((off, off + RECORD_HEADER_BYTES + length))
            off += RECORD_HEADER_BYTES + length
            continue
        nxt = off + 1
        while nxt < len(buf):
            h = parse_header(buf, nxt)
            if h is not None and nxt + RECORD_HEADER_BYTES + h[0] <= len(buf):
                break
            nxt = buf.find(struct.pack("<I", RECORD_MAGIC), nxt + 1)
            if nxt < 0:
                nxt = len(buf)
        bad.append((off, nxt))
        off = nxt
    return header_ok, records, bad


def all_records(directory):
    """Every valid record under directory, in segment order then file order."""
    out = []
    for path, _ in segments(directory):
        out += read_segment(path)[1]
    return out


def positions(directory):
    """Every reader position file under directory: [{reader, segment, offset, path, ok}]."""
    out = []
    for root, _, files in os.walk(directory):
        for f in files:
            if not f.endswith(".pos"):
                continue
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                b = fh.read()
            entry = {"path": path, "ok": False, "reader": None, "segment": None, "offset": None}
            if len(b) >= 36 and b[:8] == POSITION_MAGIC:
                version, n, seg, offset = struct.unpack_from("<IIQQ", b, 8)
                if len(b) == 32 + n + 4 and struct.unpack_from("<I", b, 32 + n)[0] == crc32c(b[:32 + n]):
                    entry.update(ok=version == FORMAT_VERSION, reader=b[32:32 + n].decode("utf-8", "replace"),
                                 segment=seg, offset=offset)
            out.append(entry)
    return out


def _fixed64(buf, pos):
    if pos + 8 > len(buf):
        raise rw.DecodeError("truncated fixed64")
    return struct.unpack_from("<Q", buf, pos)[0], pos + 8


def decode_codec_v1(raw):
    """scraper/spool_codec.hpp's record (after snappy): version byte 1, then per sample a varint length, that many
    bytes of flat labels (WriteRequest.timeseries Label fields), fixed64 series hash, fixed64 timestamp ms, fixed64
    value bits. -> [(labels, ts, v)]; raises DecodeError."""
    if not raw or raw[0] != 1:
        raise rw.DecodeError(f"version {raw[:1]!r}")
    pos, out = 1, []
    while pos < len(raw):
        n, pos = rw._varint(raw, pos)
        if pos + n > len(raw):
            raise rw.DecodeError("truncated labels")
        labels, _ = rw.decode_timeseries(raw[pos:pos + n])
        pos += n
        _, pos = _fixed64(raw, pos)  # the series hash
        ts, pos = _fixed64(raw, pos)
        bits, pos = _fixed64(raw, pos)
        out.append((labels, ts - (1 << 64) if ts >= 1 << 63 else ts, struct.unpack("<d", struct.pack("<Q", bits))[0]))
    return out


def payload_samples(payload):
    """The samples a record's payload holds, [(labels, ts, v)], and how it was read, or (None, why not)."""
    try:
        raw = snappy.uncompress(payload)
    except Exception as e:  # noqa: BLE001 - any snappy failure means "not such a record"
        return None, f"not snappy ({e})"
    try:
        return decode_codec_v1(raw), "spool_codec v1"
    except (rw.DecodeError, UnicodeDecodeError) as e:
        return None, f"not a spool_codec v1 record ({e})"


def truncate_mid_record(record):
    """Cuts record's file in the middle of the record's payload (a write torn by a crash). Returns the size."""
    size = record.begin + RECORD_HEADER_BYTES + max(1, record.length // 2)
    os.truncate(record.path, size)
    return size


def corrupt_payload(record, nbytes=4):
    """Flips nbytes in the middle of record's payload (its header, and so its length, stay valid)."""
    with open(record.path, "r+b") as f:
        at = record.begin + RECORD_HEADER_BYTES + record.length // 2
        f.seek(at)
        old = f.read(nbytes)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in old))
        f.flush()
        os.fsync(f.fileno())
    return at
