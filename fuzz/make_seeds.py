#!/usr/bin/env python3
"""make_seeds.py - the seed corpora of the fuzz targets, from the fixtures.

Run from the repository root:  python3 fuzz/make_seeds.py
It (re)writes fuzz/seeds/<target>/ and fuzz/fixture_v2.h (the records of
tests/fixtures/log-v2.msgpack, which fuzz_import.c can pre-import).
"""
import os
import struct

FIX = "tests/fixtures"
OUT = "fuzz/seeds"


def skip(b, i):
    """Offset just past the msgpack object that starts at b[i]."""
    c = b[i]
    i += 1
    if c <= 0x7f or c >= 0xe0 or c in (0xc0, 0xc2, 0xc3):
        return i
    if 0x80 <= c <= 0x8f:
        for _ in range(2 * (c & 15)):
            i = skip(b, i)
        return i
    if 0x90 <= c <= 0x9f:
        for _ in range(c & 15):
            i = skip(b, i)
        return i
    if 0xa0 <= c <= 0xbf:
        return i + (c & 31)
    fixed = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2,
             0xd2: 4, 0xd3: 8, 0xca: 4, 0xcb: 8,
             0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17}
    if c in fixed:
        return i + fixed[c]
    sized = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}
    if c in sized:
        w = sized[c]
        n = int.from_bytes(b[i:i + w], "big")
        return i + w + n
    ext = {0xc7: 1, 0xc8: 2, 0xc9: 4}
    if c in ext:
        w = ext[c]
        n = int.from_bytes(b[i:i + w], "big")
        return i + w + 1 + n
    if c in (0xdc, 0xdd, 0xde, 0xdf):
        w = 2 if c in (0xdc, 0xde) else 4
        n = int.from_bytes(b[i:i + w], "big")
        i += w
        for _ in range(n * (2 if c >= 0xde else 1)):
            i = skip(b, i)
        return i
    raise ValueError("byte 0x%02x" % c)


def records(path):
    b = open(path, "rb").read()
    out, i = [], 0
    while i < len(b):
        j = skip(b, i)
        out.append(b[i:j])
        i = j
    return out


def ts96(rec):
    """The record with its times as 12-byte timestamps (ext 8, type -1)
    instead of 4-byte ones: the same instants in the widest form."""
    out, i = b"", 0
    while True:
        j = rec.find(b"\xd6\xff", i)
        if j < 0:
            return out + rec[i:]
        sec = int.from_bytes(rec[j + 2:j + 6], "big")
        out += rec[i:j] + b"\xc7\x0c\xff" + bytes(4) + sec.to_bytes(8, "big")
        i = j + 6


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def import_input(prefix, recs, fix):
    """The input format of fuzz_import.c."""
    head = (len(recs) - 1) | (8 if fix else 0) | (prefix << 4)
    return (bytes([head]) + b"".join(struct.pack(">H", len(r)) for r in recs)
            + b"".join(recs))


def main():
    v1 = records(FIX + "/log-v1.msgpack")
    v2 = records(FIX + "/log-v2.msgpack")
    assert len(v2) <= 15, "fuzz_import.c takes a prefix of at most 15"
    for name, recs in (("v1", v1), ("v2", v2)):
        for i, r in enumerate(recs):
            write("fuzz_decode", "%s-%02d" % (name, i + 1), r)
            if name == "v2":
                write("fuzz_decode", "%s-%02d-ts96" % (name, i + 1),
                      ts96(r))
        # the records from i on, up to 8, after the first i of log-v2
        for i in range(len(recs)):
            part = recs[i:i + 8]
            write("fuzz_import", "%s-at%02d-n%d" % (name, i, len(part)),
                  import_input(i, part, True))
            write("fuzz_import", "%s-at%02d-n1" % (name, i),
                  import_input(i, part[:1], True))
    write("fuzz_import", "v2-as-is", import_input(0, v2[:8], False))
    write("fuzz_import", "v2-at04-n8-ts96",
          import_input(4, [ts96(r) for r in v2[4:12]], True))

    now = struct.pack("<q", 1780000000000)
    for i, t in enumerate([b"2026-12-01T10:00:00.000Z", b"2026-03-29",
                           b"2026-10-25", b"+3d", b"-2h", b"+30m", b"+10s",
                           b"+1w", b"2026-12-01T10:00:00+05:30",
                           b"9999-12-31T23:59:59.999-00:00", b"1970-01-01"]):
        write("fuzz_time", "t%02d" % i, now + bytes([i % 3]) + t)

    for i, t in enumerate([b"Call Dana about the renewal",
                           "Gr\u00fc\u00dfe \U0001f600 \u65e5\u672c".encode(),
                           b"line\nbreak\ttab", b"\xc2\x85 C1",
                           b"0190a000-0000-7000-8000-000000000001",
                           b"0190A000-0000-7000-8000-00000000000F",
                           b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80"]):
        write("fuzz_text", "s%02d" % i, t)

    # fuzz_search_lead.c: workspace and sort, statuses, page size and
    # assignee filter, two assignees, then a word a byte (its file's top)
    for ws in range(4):
        for name, head, words in (
                ("due-active", [0, 0x00, 0x00, 0, 0], [0]),
                ("due-given-or", [0, 0x40, 0x03, 0, 0], [12, 0x40 | 5]),
                ("due-done", [0, 0x80 | 0x19, 0x02, 0, 0], [15, 0x80 | 22]),
                ("created-two", [4, 0xa0 | 0x07, 0x34, 3, 9], [0x20 | 1]),
                ("updated-unassigned", [8, 0, 0x39, 2, 0], [22, 0x40 | 23]),
                ("due-all", [0, 0xe0 | 0x1f, 0x07, 0, 0], [])):
            data = bytes([head[0] + ws] + head[1:] + words)
            write("fuzz_search_lead", "ws%d-%s" % (ws, name), data)

    # fuzz_list.c: sort and page size, statuses, assignees and tags, a
    # search and the number of windows (and a record), the windows, ways
    write("fuzz_list", "search_due_two",
          bytes([3, 0, 0, 0x28, 0x01, 0x00, 0x06, 0x28, 0, 1, 2]))
    write("fuzz_list", "search_created_none",
          bytes([7, 0, 0, 0xa0, 0x03, 0x00, 1, 2]))

    with open("fuzz/fixture_v2.h", "w") as f:
        f.write("/* Generated by fuzz/make_seeds.py from "
                "tests/fixtures/log-v2.msgpack. */\n")
        f.write("static const unsigned char fixture_v2[] = {\n")
        blob = b"".join(v2)
        for i in range(0, len(blob), 12):
            f.write("\t" + " ".join("0x%02x," % c for c in blob[i:i + 12])
                    + "\n")
        f.write("};\n")


if __name__ == "__main__":
    main()
