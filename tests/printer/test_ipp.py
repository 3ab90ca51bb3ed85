"""printer/ipp.py's wire format: what it encodes is what ipptool's CUPS decodes (checked on the
real cupsd by every test of tests/printer), and what it decodes never makes it read past the end
or fail with anything but IppBadAnswer, whatever bytes come back."""

from __future__ import annotations

import random
import struct

import pytest

from printer.ipp import Attr, IppBadAnswer, Op, Server, Tag, decode_response, encode_request


def answer(*groups: tuple[int, list[tuple[int, str, bytes]]], status: int = 0) -> bytes:
    out = bytearray(struct.pack(">BBHI", 2, 0, status, 7))
    for tag, attrs in groups:
        out.append(tag)
        for value_tag, name, value in attrs:
            out += struct.pack(">BH", value_tag, len(name)) + name.encode()
            out += struct.pack(">H", len(value)) + value
    out.append(Tag.END)
    return bytes(out)


def test_a_request_and_an_answer_round_trip():
    body = encode_request(
        Op.GET_JOBS,
        7,
        [Attr.of(Tag.CHARSET, "attributes-charset", "utf-8"), Attr.of(Tag.KEYWORD, "r", "a", "b")],
        [Attr.of(Tag.INTEGER, "copies", 1), Attr.of(Tag.BOOLEAN, "f", False)],
    )
    assert body[:8] == struct.pack(">BBHI", 2, 0, Op.GET_JOBS, 7)
    # the answer format is the request format: decode our own request's groups
    resp = decode_response(body)
    assert resp.group(Tag.OPERATION) == {"attributes-charset": ["utf-8"], "r": ["a", "b"]}
    assert resp.group(Tag.JOB) == {"copies": [1], "f": [False]}


def test_jobs_collections_and_text_with_language_decode():
    lang = struct.pack(">H", 2) + b"en" + struct.pack(">H", 5) + b"hello"
    data = answer(
        (Tag.OPERATION, [(Tag.TEXT, "status-message", b"successful-ok")]),
        (
            Tag.JOB,
            [
                (Tag.INTEGER, "job-id", struct.pack(">i", 3)),
                (Tag.NAME, "job-name", b"booth-print-00ff"),
            ],
        ),
        (
            Tag.JOB,
            [
                (Tag.INTEGER, "job-id", struct.pack(">i", 4)),
                (Tag.TEXT_WITH_LANGUAGE, "job-state-message", lang),
            ],
        ),
        (
            Tag.PRINTER,
            [
                (Tag.BEGIN_COLLECTION, "media-col", b""),
                (Tag.MEMBER_NAME, "", b"media-key"),
                (Tag.KEYWORD, "", b"na_index-4x6"),
                (Tag.END_COLLECTION, "", b""),
                (Tag.NO_VALUE, "printer-state-message", b""),
            ],
        ),
    )
    resp = decode_response(data)
    assert resp.ok and resp.message == "successful-ok"
    jobs = resp.groups_of(Tag.JOB)
    assert [j["job-id"] for j in jobs] == [[3], [4]]
    assert jobs[1]["job-state-message"] == ["hello"]
    printer = resp.group(Tag.PRINTER)
    assert printer["media-col"] == [{"media-key": ["na_index-4x6"]}]
    assert printer["printer-state-message"] == [None]


@pytest.mark.parametrize("cut", range(0, 60, 3))
def test_a_cut_answer_is_a_bad_answer(cut):
    data = answer(
        (
            Tag.JOB,
            [
                (Tag.INTEGER, "job-id", struct.pack(">i", 3)),
                (Tag.NAME, "job-name", b"booth-print-00ff"),
            ],
        )
    )
    if cut < len(data):
        with pytest.raises(IppBadAnswer):
            decode_response(data[:cut])


def test_random_bytes_are_a_bad_answer_or_an_answer_never_anything_else():
    rng = random.Random(8010)
    for _ in range(3000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        if rng.random() < 0.5:  # a plausible start makes the decoder go further in
            data = struct.pack(">BBHI", 2, 0, 0, 1) + bytes([Tag.JOB]) + data
        try:
            decode_response(data)
        except IppBadAnswer:
            pass


def test_cups_server_names():
    assert Server.parse("/run/cups/cups.sock").socket_path == "/run/cups/cups.sock"
    assert (Server.parse("printhost").host, Server.parse("printhost").port) == ("printhost", 631)
    assert Server.parse("127.0.0.1:18631").port == 18631
    v6 = Server.parse("[::1]:632")
    assert (v6.host, v6.port) == ("::1", 632)
