/// SHA-1, needed only for ZooKeeper's digest auth scheme (`user:base64(sha1("user:password"))`).
/// Not used for anything that needs collision resistance.
public enum SHA1 {
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var h0: UInt32 = 0x6745_2301, h1: UInt32 = 0xEFCD_AB89, h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476, h4: UInt32 = 0xC3D2_E1F0
        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { padded.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var words = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for index in 0..<16 {
                let base = chunk + index * 4
                words[index] = UInt32(padded[base]) << 24 | UInt32(padded[base + 1]) << 16
                    | UInt32(padded[base + 2]) << 8 | UInt32(padded[base + 3])
            }
            for index in 16..<80 {
                let mixed = words[index - 3] ^ words[index - 8] ^ words[index - 14] ^ words[index - 16]
                words[index] = (mixed << 1) | (mixed >> 31)
            }
            var a = h0, b = h1, c = h2, d = h3, e = h4
            for index in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch index {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ words[index]
                e = d
                d = c
                c = (b << 30) | (b >> 2)
                b = a
                a = temp
            }
            h0 = h0 &+ a; h1 = h1 &+ b; h2 = h2 &+ c; h3 = h3 &+ d; h4 = h4 &+ e
        }
        var digest: [UInt8] = []
        for value in [h0, h1, h2, h3, h4] {
            digest.append(contentsOf: [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
        }
        return digest
    }
}

public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// ZooKeeper's DigestAuthenticationProvider.generateDigest.
public enum DigestAuthentication {
    public static func digest(userAndPassword: String) -> String {
        let user = userAndPassword.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return user + ":" + Base64.encode(SHA1.hash(Array(userAndPassword.utf8)))
    }
}

/// java.util.Random, bit for bit: ZooKeeper derives a session's password from
/// `new Random(sessionId ^ 0xB3415C00L).nextBytes(16 bytes)`, so sessions stay valid across an
/// import from Apache ZooKeeper and across restarts without storing passwords.
public struct JavaRandom {
    private var seed: UInt64
    private static let multiplier: UInt64 = 0x5_DEEC_E66D
    private static let mask: UInt64 = (1 << 48) - 1

    public init(seed: Int64) { self.seed = (UInt64(bitPattern: seed) ^ Self.multiplier) & Self.mask }

    public mutating func next(bits: Int) -> Int32 {
        seed = (seed &* Self.multiplier &+ 0xB) & Self.mask
        return Int32(truncatingIfNeeded: Int64(seed >> UInt64(48 - bits)))
    }

    public mutating func nextBytes(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            var random = next(bits: 32)
            for _ in 0..<min(count - bytes.count, 4) {
                bytes.append(UInt8(truncatingIfNeeded: random))
                random >>= 8
            }
        }
        return bytes
    }

    public static let sessionPasswordSecret: Int64 = 0xB341_5C00

    public static func sessionPassword(sessionId: Int64) -> [UInt8] {
        var random = JavaRandom(seed: sessionId ^ sessionPasswordSecret)
        return random.nextBytes(count: 16)
    }
}
