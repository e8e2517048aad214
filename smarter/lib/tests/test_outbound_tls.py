"""The guard connects to the checked address but still verifies TLS for the host name (SNI)."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smarter.lib import outbound
from smarter.lib.outbound import guarded_client

HOST = "tls.example"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = f"host={self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
    cert_path, key_path = _certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(cert_path))
    try:
        yield httpd.server_address[1], client_context
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_is_verified_for_the_name_while_the_socket_goes_to_the_checked_address(
    smarter_settings: Any, tls_server: tuple[int, ssl.SSLContext]
) -> None:
    smarter_settings.allow_private_hosts = False
    port, context = tls_server
    with outbound.override_host(HOST, ["127.0.0.1"], trusted=True), guarded_client(timeout=3, verify=context) as client:
        response = client.get(f"https://{HOST}:{port}/")
    assert response.text == f"host={HOST}:{port}"


def test_the_certificate_must_match_the_name_not_the_address(
    smarter_settings: Any, tls_server: tuple[int, ssl.SSLContext]
) -> None:
    smarter_settings.allow_private_hosts = True
    port, context = tls_server
    with guarded_client(timeout=3, verify=context) as client, pytest.raises(httpx.ConnectError, match="certificate"):
        client.get(f"https://127.0.0.1:{port}/")
