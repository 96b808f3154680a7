"""etl.web.netguard: which addresses may be reached, checked after DNS, before any connection."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest

import etl.web.connections as connections
from etl.settings import Settings
from etl.web.dispatch import fetch_inputs
from etl.web.fetcher import Fetcher
from etl.web.netguard import BlockedAddress, NetGuard, parse_networks, why_blocked
from etl.web.protocol import FetchError
from tests.sites import article_html, fake_dns, news_site, running


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private network"),
        ("172.16.3.4", "private network"),
        ("192.168.1.1", "private network"),
        ("fd12:3456::1", "private network"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "cloud metadata endpoint"),
        ("fd00:ec2::254", "cloud metadata endpoint"),
        ("100.100.100.200", "cloud metadata endpoint"),
        ("100.64.1.1", "shared address space"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified address"),
        ("::", "unspecified address"),
        ("240.0.0.1", "reserved"),
        ("::ffff:10.0.0.1", "private network"),
        ("::ffff:127.0.0.1", "loopback"),
        ("192.0.2.1", "private network"),  # documentation range
        # IPv6 that tunnels to IPv4: judged by the IPv4 address inside
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:5::1", "private network"),  # 6to4 of 10.0.0.5
        ("2002:a9fe:a9fe::", "cloud metadata endpoint"),  # 6to4 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffa", "private network"),  # Teredo, client 10.0.0.5
        ("2001:0:a00:5::f7f7:f7f7", "private network"),  # Teredo, server 10.0.0.5
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ],
)
def test_unsafe_addresses(address: str, reason: str) -> None:
    assert why_blocked(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "93.184.216.34",
        "2002:808:808::",  # 6to4 of 8.8.8.8
        "::ffff:8.8.8.8",
    ],
)
def test_public_addresses(address: str) -> None:
    assert why_blocked(ipaddress.ip_address(address)) is None


def test_allowed_networks_let_chosen_ranges_through() -> None:
    guard = NetGuard.from_cidrs(["127.0.0.0/8", "10.1.0.0/16"])
    guard.check_address(ipaddress.ip_address("127.0.0.2"))
    guard.check_address(ipaddress.ip_address("10.1.2.3"))
    with pytest.raises(BlockedAddress, match=r"blocked address 10\.2\.0\.1 \(private network\)"):
        guard.check_address(ipaddress.ip_address("10.2.0.1"))
    with pytest.raises(BlockedAddress, match="loopback"):
        guard.check_address(ipaddress.ip_address("::1"))  # 127/8 says nothing about IPv6


def test_metadata_needs_an_exact_allowlist_entry() -> None:
    metadata = ipaddress.ip_address("169.254.169.254")
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        NetGuard.from_cidrs(["169.254.0.0/16"]).check_address(metadata)
    NetGuard.from_cidrs(["169.254.169.254/32"]).check_address(metadata)


def test_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match="ARTICLE_ETL_ALLOWED_NETWORKS: 'nope'"):
        parse_networks(["nope"])


def test_every_resolved_address_is_checked() -> None:
    guard = NetGuard(resolver=fake_dns({"mixed.test": ["93.184.216.34", "10.0.0.5"]}))
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.5 \(private network\)"):
        guard.resolve("mixed.test", 80)
    assert NetGuard(resolver=fake_dns({"ok.test": ["93.184.216.34"]})).resolve("ok.test", 80) == [
        "93.184.216.34"
    ]
    with pytest.raises(socket.gaierror):
        guard.resolve("nowhere.test", 80)


def test_literal_addresses_need_no_dns() -> None:
    def no_dns(*_args: Any) -> list[tuple[Any, ...]]:
        raise AssertionError("DNS used for a literal address")

    guard = NetGuard(resolver=no_dns)
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        guard.resolve("169.254.169.254", 80)
    with pytest.raises(BlockedAddress, match="loopback"):
        guard.resolve("[::1]", 80)


def test_fetcher_connects_to_the_checked_address_with_the_real_host_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resolving to a blocked address is refused before connecting; a name resolving to
    an allowed one is fetched from that address, with the name in the Host header."""
    connects: list[tuple[str, int]] = []
    real = connections.create_connection

    def spy(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connects.append(address)
        assert address[0] == "127.0.0.1"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(connections, "create_connection", spy)
    with running(news_site()) as (site,):
        dns = fake_dns({"news.test": ["127.0.0.1"], "rebind.test": ["10.0.0.5"]})
        settings = Settings(allowed_networks=("127.0.0.0/8",), fetch_rate_per_host=50.0)
        fetcher = Fetcher(settings, guard=NetGuard(parse_networks(settings.allowed_networks), dns))
        try:
            page = fetcher.get(f"http://news.test:{site.port}/articles/1")
            assert page.data == article_html(1)
            assert {r.headers["host"] for r in site.log} == {f"news.test:{site.port}"}
            with pytest.raises(
                FetchError, match=r"blocked address 10\.0\.0\.5 \(private network\)"
            ):
                fetcher.get(f"http://rebind.test:{site.port}/articles/1")
        finally:
            fetcher.close()
    assert all(ip == "127.0.0.1" for ip, _port in connects)


def test_settings_from_env_reads_allowed_networks(tmp_path: Path) -> None:
    settings = Settings.from_env({"ARTICLE_ETL_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128"})
    assert settings.allowed_networks == ("127.0.0.0/8", "::1/128")
    with running(news_site()) as (site,):
        url = site.url("/articles/3")
        (result,) = fetch_inputs(
            [url], settings.with_overrides(fetch_rate_per_host=50.0), cache_location=tmp_path / "c"
        )
        assert result.data == article_html(3)


def test_tunnelled_addresses_are_named_by_the_ipv4_address_inside() -> None:
    guard = NetGuard()
    with pytest.raises(BlockedAddress, match=r"^blocked address 10\.0\.0\.5 \(private network\)$"):
        guard.check_address(ipaddress.ip_address("2002:a00:5::"))
    with pytest.raises(BlockedAddress, match=r"^blocked address 127\.0\.0\.1 \(loopback\)$"):
        guard.resolve("2001:0:4136:e378:8000:63bf:80ff:fffe", 80)


def test_a_final_dot_is_dropped_before_the_guard_looks() -> None:
    def no_dns(*_args: Any) -> list[tuple[Any, ...]]:
        raise AssertionError("DNS used for a literal address")

    with pytest.raises(BlockedAddress, match="cloud metadata"):
        NetGuard(resolver=no_dns).resolve("169.254.169.254.", 80)
    with pytest.raises(BlockedAddress, match="loopback"):
        NetGuard(resolver=no_dns).resolve("127.0.0.1.", 80)
    allowed = NetGuard(parse_networks(["127.0.0.0/8"]), resolver=no_dns)
    assert allowed.resolve("127.0.0.1.", 80) == ["127.0.0.1"]
    named = NetGuard(resolver=fake_dns({"news.test": ["93.184.216.34"]}))
    assert named.resolve("News.Test.", 80) == ["93.184.216.34"]
