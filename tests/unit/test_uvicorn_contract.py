"""What `http.server.GuardedProtocol` relies on in uvicorn's httptools protocol, which is not
a public API: these tests fail, naming the piece, when an upgrade of uvicorn changes it."""

from __future__ import annotations

import inspect

import pytest
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from commpref.http.server import GuardedProtocol

# The callbacks GuardedProtocol overrides, with the parameters it passes on.
OVERRIDDEN = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_url": ["self", "url"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_body": ["self", "body"],
    "on_message_complete": ["self"],
}


@pytest.mark.parametrize(("name", "parameters"), OVERRIDDEN.items())
def test_each_overridden_callback_keeps_its_parameters(name: str, parameters: list[str]) -> None:
    method = getattr(HttpToolsProtocol, name, None)
    assert method is not None, f"uvicorn's HttpToolsProtocol no longer has {name}"
    assert list(inspect.signature(method).parameters) == parameters, name
    assert name in vars(GuardedProtocol)  # and the guard still overrides it


def test_the_protocol_keeps_the_attributes_the_guards_read() -> None:
    init = inspect.getsource(HttpToolsProtocol.__init__)
    made = inspect.getsource(HttpToolsProtocol.connection_made)
    assert "self.loop" in init, "the guards schedule their timer on self.loop"
    assert "self.cycle" in init, "a pipelined head is judged by self.cycle"
    assert "self.transport = transport" in made, "TurnWrites is handed in as the transport"
    cycle = inspect.getsource(RequestResponseCycle.__init__)
    assert "self.response_complete" in cycle, "the timer asks cycle.response_complete"


def test_responses_are_written_through_the_transport_alone() -> None:
    """TurnWrites joins a response's writes only if uvicorn writes through the transport it
    was handed (`write`), never through a socket of its own."""
    source = inspect.getsource(httptools_impl)
    assert "self.transport.write(" in source
    assert "sock.send" not in source and ".sendall(" not in source
