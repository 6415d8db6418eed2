"""TLS material for the twin: a throw-away CA and a server certificate, generated at start.

Bearer tokens are only sent over HTTPS by the Azure SDKs, so the twin must speak TLS; the process under test
trusts it through ``REQUESTS_CA_BUNDLE`` pointing at the CA file written here. Keys are elliptic-curve (P-256)
because generating them is instant, which keeps "start the twin and get a first token" well under a second.
The server certificate carries both ``IP:127.0.0.1`` and ``DNS:localhost`` SANs: ``requests`` checks the IP SAN
when the URL is ``https://127.0.0.1:PORT``.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM = serialization.Encoding.PEM


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the generated material lives: ``ca_file`` is what clients trust; the other two feed the server."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for the listening socket."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "azure-preflight twin"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def generate(directory: Path, *, ip: str = "127.0.0.1", prefix: str = "twin", names: tuple[str, ...] = ()) -> TlsFiles:
    """Create a CA and a server certificate for ``ip``/localhost (and the DNS ``names``, e.g. the twin's named
    hosts, wildcards included) in ``directory`` (which must exist), as ``{prefix}-ca.pem``,
    ``{prefix}-server.pem`` and ``{prefix}-server.key``. Each call makes a new CA, so a second server (tests'
    hostile ones on 127.0.0.x) is trusted only by whoever is given its CA file."""
    now = _dt.datetime.now(_dt.UTC)
    # Back-date a little: clients on a slightly different clock must not see "not yet valid".
    not_before, not_after = now - _dt.timedelta(hours=1), now + _dt.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"azure-preflight {prefix} CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("localhost"), *map(x509.DNSName, names)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(
        directory / f"{prefix}-ca.pem", directory / f"{prefix}-server.pem", directory / f"{prefix}-server.key"
    )
    files.ca_file.write_bytes(ca_cert.public_bytes(_PEM))
    files.cert_file.write_bytes(cert.public_bytes(_PEM))
    files.key_file.write_bytes(key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    files.key_file.chmod(0o600)
    return files


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A self-signed RSA certificate for an app registration's ``keyCredentials`` (``x-twin-generate``).

    ``pem_path`` holds the private key followed by the certificate — the format ``AZURE_CLIENT_CERTIFICATE_PATH``
    and ``ClientCertificateCredential(certificate_path=…)`` read. ``key_b64`` is the DER certificate in base64, the
    ``key`` field Microsoft Graph returns; ``thumbprint`` is the upper-case SHA-1 hex (``customKeyIdentifier``).
    """

    pem_path: Path
    certificate: x509.Certificate
    key_b64: str
    thumbprint: str


def generate_client_certificate(
    path: Path, subject: str, not_before: _dt.datetime | None = None, not_after: _dt.datetime | None = None
) -> ClientCertificate:
    """Generate an RSA-2048 certificate (MSAL signs client assertions with RSA: PS256/RS256) at ``path``."""
    import base64

    now = _dt.datetime.now(_dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _dt.timedelta(days=1))
        .not_valid_after(not_after or now + _dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem + cert.public_bytes(_PEM))
    path.chmod(0o600)
    der = cert.public_bytes(serialization.Encoding.DER)
    return ClientCertificate(
        path, cert, base64.b64encode(der).decode("ascii"), cert.fingerprint(hashes.SHA1()).hex().upper()
    )
