"""Many spellings of the addresses a tenant must never make the platform reach, for SSRF tests.

Every entry is a host as it would appear in a URL (IPv6 in brackets) and the words the refusal
must contain. Non-ASCII spellings are built from the ASCII form by code point arithmetic, so the
table says what each one is (fullwidth digits, circled digits, ideographic full stops, ...)
instead of showing look-alike characters.
"""

from __future__ import annotations

FULLWIDTH_DIGITS = 0xFF10  # FULLWIDTH DIGIT ZERO
MATHEMATICAL_BOLD_DIGITS = 0x1D7CE
MATHEMATICAL_DOUBLE_STRUCK_DIGITS = 0x1D7D8
MATHEMATICAL_MONOSPACE_DIGITS = 0x1D7F6
ARABIC_INDIC_DIGITS = 0x0660
IDEOGRAPHIC_FULL_STOP = "\u3002"
FULLWIDTH_FULL_STOP = "\uff0e"
HALFWIDTH_IDEOGRAPHIC_FULL_STOP = "\uff61"
CIRCLED_DIGIT_ONE = 0x2460  # CIRCLED DIGIT ONE; CIRCLED DIGIT ZERO stands apart
CIRCLED_DIGIT_ZERO = "\u24ea"
CIRCLED_NUMBER_TEN = "\u2469"  # one character that folds to "10"
FULLWIDTH_LATIN_SMALL_A = 0xFF41
FULLWIDTH_LATIN_CAPITAL_A = 0xFF21
CIRCLED_LATIN_SMALL_A = 0x24D0
SOFT_HYPHEN = "\u00ad"


def digits(text: str, base: int) -> str:
    """`text` with every ASCII digit replaced by the digit of the block starting at `base`."""
    return "".join(chr(base + int(c)) if c.isdigit() else c for c in text)


def circled(text: str) -> str:
    return "".join(
        (CIRCLED_DIGIT_ZERO if c == "0" else chr(CIRCLED_DIGIT_ONE + int(c) - 1)) if c.isdigit() else c for c in text
    )


def dots(text: str, dot: str) -> str:
    return text.replace(".", dot)


def fullwidth_letters(text: str, *, capital: bool = False) -> str:
    base = FULLWIDTH_LATIN_CAPITAL_A if capital else FULLWIDTH_LATIN_SMALL_A
    return "".join(chr(base + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in text)


def circled_letters(text: str) -> str:
    return "".join(chr(CIRCLED_LATIN_SMALL_A + ord(c) - ord("a")) if "a" <= c <= "z" else c for c in text)


def unicode_forms(address: str) -> list[tuple[str, str]]:
    """The non-ASCII spellings that NFKC folds back to the dotted `address`, each with its name."""
    return [
        (digits(address, FULLWIDTH_DIGITS), "fullwidth digits"),
        (dots(address, IDEOGRAPHIC_FULL_STOP), "ideographic full stops"),
        (dots(address, FULLWIDTH_FULL_STOP), "fullwidth full stops"),
        (dots(address, HALFWIDTH_IDEOGRAPHIC_FULL_STOP), "halfwidth ideographic full stops"),
        (dots(digits(address, FULLWIDTH_DIGITS), IDEOGRAPHIC_FULL_STOP), "fullwidth digits, ideographic stops"),
        (circled(address), "circled digits"),
        (digits(address, MATHEMATICAL_BOLD_DIGITS), "mathematical bold digits"),
        (digits(address, MATHEMATICAL_DOUBLE_STRUCK_DIGITS), "mathematical double-struck digits"),
        (digits(address, MATHEMATICAL_MONOSPACE_DIGITS), "mathematical monospace digits"),
    ]


LOOPBACK = "loopback"
PRIVATE = "private address"
UNSPECIFIED = "unspecified"
METADATA = "metadata"
LINK_LOCAL = "link-local"
SHARED = "shared (CGNAT)"

# (host in a URL, what the refusal says, what the spelling is)
LOOPBACK_SPELLINGS: list[tuple[str, str, str]] = [
    ("127.0.0.1", LOOPBACK, "dotted"),
    ("127.1", LOOPBACK, "shorthand, two parts"),
    ("127.0.1", LOOPBACK, "shorthand, three parts"),
    ("127.000.000.001", LOOPBACK, "zero-padded"),
    ("0x7f000001", LOOPBACK, "hexadecimal"),
    ("0X7F000001", LOOPBACK, "hexadecimal, capitals"),
    ("0x7f.0x0.0x0.0x1", LOOPBACK, "hexadecimal parts"),
    ("0x7f.1", LOOPBACK, "hexadecimal shorthand"),
    ("2130706433", LOOPBACK, "decimal"),
    ("017700000001", LOOPBACK, "octal"),
    ("0177.0.0.01", LOOPBACK, "octal parts"),
    ("127.0.0.1.", LOOPBACK, "trailing dot"),
    ("127.127.127.127", LOOPBACK, "elsewhere in 127/8"),
    *[(form, LOOPBACK, name) for form, name in unicode_forms("127.0.0.1")],
    (digits("0x7f.1", FULLWIDTH_DIGITS).replace("x", chr(FULLWIDTH_LATIN_SMALL_A + 23)), LOOPBACK, "fullwidth hex"),
    (digits("2130706433", FULLWIDTH_DIGITS), LOOPBACK, "fullwidth decimal"),
    (dots(digits("127.0.0.1.", FULLWIDTH_DIGITS), IDEOGRAPHIC_FULL_STOP), LOOPBACK, "fullwidth, trailing stop"),
    ("[::1]", LOOPBACK, "IPv6"),
    ("[0:0:0:0:0:0:0:1]", LOOPBACK, "IPv6, long form"),
    ("[0000::0001]", LOOPBACK, "IPv6, zero-padded"),
    ("[::ffff:127.0.0.1]", LOOPBACK, "IPv4-mapped"),
    ("[::ffff:7f00:1]", LOOPBACK, "IPv4-mapped, hexadecimal"),
    ("[::FFFF:7F00:1]", LOOPBACK, "IPv4-mapped, capitals"),
    ("[::ffff:0:127.0.0.1]", LOOPBACK, "IPv4-translated"),
    ("[::127.0.0.1]", LOOPBACK, "IPv4-compatible"),
    ("[64:ff9b::127.0.0.1]", LOOPBACK, "NAT64"),
    ("[64:ff9b::7f00:1]", LOOPBACK, "NAT64, hexadecimal"),
    ("[2002:7f00:1::]", LOOPBACK, "6to4"),
    ("localhost", LOOPBACK, "the name"),
    ("LOCALHOST", LOOPBACK, "capitals"),
    ("LocalHost", LOOPBACK, "mixed case"),
    ("localhost.", LOOPBACK, "trailing dot"),
    ("api.localhost", LOOPBACK, "a name under localhost"),
    ("localhost.localdomain", LOOPBACK, "localdomain"),
    ("ip6-localhost", LOOPBACK, "ip6-localhost"),
    (fullwidth_letters("localhost"), LOOPBACK, "fullwidth letters"),
    (fullwidth_letters("localhost", capital=True), LOOPBACK, "fullwidth capitals"),
    (circled_letters("localhost"), LOOPBACK, "circled letters"),
    (dots("localhost.localdomain", IDEOGRAPHIC_FULL_STOP), LOOPBACK, "ideographic stop in a name"),
    ("0.0.0.0", UNSPECIFIED, "unspecified, reaches this host"),  # noqa: S104 (a refused target, not a bind)
    ("0", UNSPECIFIED, "unspecified, one part"),
    ("0x0", UNSPECIFIED, "unspecified, hexadecimal"),
    ("[::]", UNSPECIFIED, "IPv6 unspecified"),
    (circled("0.0.0.0"), UNSPECIFIED, "circled zeros"),  # noqa: S104 (a refused target)
]

PRIVATE_SPELLINGS: list[tuple[str, str, str]] = [
    ("10.0.0.1", PRIVATE, "10/8"),
    ("10.1", PRIVATE, "10/8 shorthand"),
    ("0xa000001", PRIVATE, "10/8 hexadecimal"),
    ("167772161", PRIVATE, "10/8 decimal"),
    (CIRCLED_NUMBER_TEN + ".0.0.1", PRIVATE, "circled number ten"),
    (digits("10.0.0.1", FULLWIDTH_DIGITS), PRIVATE, "10/8 fullwidth"),
    ("172.16.0.1", PRIVATE, "172.16/12"),
    ("172.31.255.254", PRIVATE, "172.16/12 top"),
    ("192.168.0.1", PRIVATE, "192.168/16"),
    ("0xc0a80001", PRIVATE, "192.168/16 hexadecimal"),
    ("0300.0250.0.1", PRIVATE, "192.168/16 octal"),
    (dots(digits("192.168.0.1", MATHEMATICAL_BOLD_DIGITS), IDEOGRAPHIC_FULL_STOP), PRIVATE, "bold and ideographic"),
    ("[fc00::1]", PRIVATE, "IPv6 unique local"),
    ("[fd12:3456::1]", PRIVATE, "IPv6 unique local, fd"),
    ("[::ffff:10.0.0.1]", PRIVATE, "IPv4-mapped 10/8"),
    ("[::ffff:c0a8:1]", PRIVATE, "IPv4-mapped 192.168/16"),
    ("[64:ff9b::a00:1]", PRIVATE, "NAT64 10/8"),
    ("[2002:c0a8:1::]", PRIVATE, "6to4 192.168/16"),
]

# Refused whatever SMARTER_ALLOW_PRIVATE_HOSTS says.
METADATA_SPELLINGS: list[tuple[str, str, str]] = [
    ("169.254.169.254", METADATA, "AWS, GCP, Azure"),
    ("0xa9fea9fe", METADATA, "hexadecimal"),
    ("2852039166", METADATA, "decimal"),
    ("0251.0376.0251.0376", METADATA, "octal"),
    ("169.254.43518", METADATA, "shorthand"),
    ("169.254.169.254.", METADATA, "trailing dot"),
    *[(form, METADATA, name) for form, name in unicode_forms("169.254.169.254")],
    ("[::ffff:169.254.169.254]", METADATA, "IPv4-mapped"),
    ("[::ffff:a9fe:a9fe]", METADATA, "IPv4-mapped, hexadecimal"),
    ("[64:ff9b::a9fe:a9fe]", METADATA, "NAT64"),
    ("[2002:a9fe:a9fe::]", METADATA, "6to4"),
    ("[fd00:ec2::254]", METADATA, "AWS over IPv6"),
    ("169.254.170.2", METADATA, "AWS ECS credentials"),
    ("100.100.100.200", METADATA, "Alibaba Cloud"),
    ("0x646464c8", METADATA, "Alibaba Cloud, hexadecimal"),
    ("1684301000", METADATA, "Alibaba Cloud, decimal"),
    (digits("100.100.100.200", FULLWIDTH_DIGITS), METADATA, "Alibaba Cloud, fullwidth"),
    (circled("100.100.100.200"), METADATA, "Alibaba Cloud, circled"),
    ("[::ffff:100.100.100.200]", METADATA, "Alibaba Cloud, IPv4-mapped"),
    ("169.254.1.1", LINK_LOCAL, "link-local"),
    ("[fe80::1]", LINK_LOCAL, "IPv6 link-local"),
    ("[fd00:ec2::23]", "AWS link service", "AWS IPv6 link service"),
    ("100.64.0.1", SHARED, "CGNAT"),
    ("100.127.255.254", SHARED, "CGNAT top"),
    ("[::ffff:100.64.0.1]", SHARED, "CGNAT, IPv4-mapped"),
    ("metadata.google.internal", "metadata name", "GCP's name"),
    ("METADATA.GOOGLE.INTERNAL.", "metadata name", "GCP's name, capitals, trailing dot"),
]

# Not addresses at all: refused because they cannot be normalised.
UNNORMALISABLE_HOSTS: list[tuple[str, str, str]] = [
    (digits("127.0.0.1", ARABIC_INDIC_DIGITS), "not a valid international domain name", "Arabic-Indic digits"),
    ("999.0.0.1", "not a valid IPv4 address", "an octet out of range"),
    ("1.2.3.4.5", "not a valid IPv4 address", "five parts"),
    ("4294967296", "not a valid IPv4 address", "beyond 32 bits"),
    ("0x", "not a valid IPv4 address", "a bare 0x"),
    ("08.0.0.1", "not a valid IPv4 address", "not octal"),
    ("xn--a", "not a valid international domain name", "broken punycode"),
    ("exa_mple-.com", "not a valid host name", "a label ending in a dash"),
    ("a..b", "not a valid host name", "an empty label"),
    ("[fe80::1%25eth0]", "zone id", "an IPv6 zone id"),
    ("[::1%25lo]", "zone id", "a zone id on loopback"),
    ("%31%32%37.0.0.1", "not a valid host name", "percent-encoded"),
    ("loc" + SOFT_HYPHEN + "alhost", "control or format character", "a soft hyphen"),
]
