import Testing
import ZKBase

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite struct SHA1Tests {
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    ])
    func standardVectors(_ message: String, _ expected: String) {
        #expect(hex(SHA1.hash(Array(message.utf8))) == expected)
    }

    /// Lengths around the 55/56/64-byte padding boundaries (expected values from coreutils sha1sum).
    @Test(arguments: [
        (55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1"),
        (56, "901305367c259952f4e7af8323f480d59f81335b"),
        (63, "0ddc4e0cccd9a12850deb5abb0853a4425559fec"),
        (64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"),
        (65, "78c741ddc482e4cdf8c474a0876347a0905b6233"),
        (119, "4300320394f7ee239bcdce7d3b8bcee173a0cd5c"),
        (120, "ceb2821639c4b6dcb10bce0e522ca2e608ce056d"),
    ])
    func paddingBoundaries(_ length: Int, _ expected: String) {
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "x"), count: length))) == expected)
    }

    @Test func millionA() {
        let digest = SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(hex(digest) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(_ input: String, _ expected: String) {
        #expect(Base64.encode(Array(input.utf8)) == expected)
    }

    @Test func usesPlusAndSlash() {
        #expect(Base64.encode([0xfb, 0xff]) == "+/8=")
        #expect(Base64.encode([0xff, 0xff, 0xff]) == "////")
        #expect(Base64.encode([0x00, 0x00, 0x00]) == "AAAA")
    }
}

/// Expected values printed by ZooKeeper 3.8.0's `DigestAuthenticationProvider.generateDigest`.
@Suite struct DigestAuthenticationTests {
    @Test(arguments: [
        ("super:test", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ("bob:a:b:c", "bob:G4hYDsOgQHPiy2ze+nCB45qSJng="),
        ("nocolon", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="),
        ("üser:pässword", "üser:S/LHSCEmmE6GVxI+xd586A6+JlE="),
    ])
    func matchesZooKeeper(_ userAndPassword: String, _ expected: String) {
        #expect(DigestAuthentication.digest(userAndPassword: userAndPassword) == expected)
    }
}
