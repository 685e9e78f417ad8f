"""A loopback DNS server answering A queries for a few names and NXDOMAIN to the rest: the test's
stand-in for the cluster DNS that lists a headless Service's ready pods, and the engine tier's
upstream resolver (no names at all)."""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.A:
            for address in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=5))
        return reply


class DnsStub:
    def __init__(self, port: int, records: dict[str, list[str]], address: str = "127.0.0.1") -> None:
        self.resolver = _Resolver(records)
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", logf=lambda _: None)
        self.server = DNSServer(self.resolver, port=port, address=address, tcp=False, logger=quiet)

    def set(self, name: str, addresses: list[str]) -> None:
        self.resolver.records[name] = list(addresses)

    def __enter__(self) -> DnsStub:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
