"""`server.TurnWrites`: what one event-loop turn writes leaves as one send, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from commpref.http.server import TurnWrites


class Recording:
    """The transport underneath: records each write it is handed and whether it is closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self.writes))

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else None


async def _turn() -> None:
    await asyncio.sleep(0)


def _wrapped() -> tuple[TurnWrites, Recording]:
    inner = Recording()
    return TurnWrites(inner, asyncio.get_running_loop()), inner


async def test_head_and_body_of_one_turn_leave_as_one_write_in_order() -> None:
    t, inner = _wrapped()
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b'{"status":"COMPLETE"}')
    assert inner.writes == []  # not before the turn ends
    assert t.get_write_buffer_size() == 19 + 21
    await _turn()
    assert inner.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"status":"COMPLETE"}']


async def test_writes_of_later_turns_go_out_turn_by_turn() -> None:
    """A streamed body flows: each turn's chunk leaves before the next turn runs."""
    t, inner = _wrapped()
    t.write(b"head")
    await _turn()
    t.write(b"chunk 1")
    t.writelines([b"chunk 2", b"+"])
    await _turn()
    assert inner.writes == [b"head", b"chunk 1chunk 2+"]


async def test_close_and_write_eof_send_what_is_pending_first() -> None:
    t, inner = _wrapped()
    t.write(b"error")
    t.close()
    assert inner.events == ["write", "close"]
    await _turn()  # the scheduled flush finds nothing left and the transport closing
    assert inner.writes == [b"error"]

    t, inner = _wrapped()
    t.write(b"last")
    t.write_eof()
    assert inner.events == ["write", "eof"]


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    t, inner = _wrapped()
    t.write(b"late")
    inner.closing = True  # the peer went away within the turn
    await _turn()
    assert inner.writes == []


async def test_everything_else_is_the_transport_underneath() -> None:
    t, inner = _wrapped()
    assert t.get_extra_info("sockname") == ("127.0.0.1", 8080)
    assert t.is_closing() is False
    inner.closing = True
    assert t.is_closing() is True
