/// zxid = epoch << 32 | counter (ZxidUtils). Kept as Int64 because that is its wire type.
public enum ZxidMath {
    public static func make(epoch: Int64, counter: Int64) -> Int64 { (epoch << 32) | (counter & 0xffff_ffff) }
    public static func epoch(_ zxid: Int64) -> Int64 { zxid >> 32 }
    public static func counter(_ zxid: Int64) -> Int64 { zxid & 0xffff_ffff }
    public static func hex(_ zxid: Int64) -> String { "0x" + String(UInt64(bitPattern: zxid), radix: 16) }
}

/// Special ids ZooKeeper gives an ephemeralOwner: containers and TTL nodes are marked in it.
public enum EphemeralOwner {
    /// Container nodes have ephemeralOwner = Long.MIN_VALUE (EphemeralType.CONTAINER_EPHEMERAL_OWNER).
    public static let container: Int64 = Int64.min
    /// Extended types (EphemeralType): high byte 0xFF, a 16-bit feature number in bits 40-55
    /// (0 = TTL), and the value in the low 40 bits.
    public static let extendedMask: Int64 = Int64(bitPattern: 0xff00_0000_0000_0000)
    public static let featureMask: Int64 = 0x00ff_ff00_0000_0000
    public static let ttlMaximum: Int64 = 0x0000_00ff_ffff_ffff

    public static func ttl(_ milliseconds: Int64) -> Int64 { extendedMask | (milliseconds & ttlMaximum) }
    public static func isTTL(_ owner: Int64) -> Bool {
        owner != container && (owner & extendedMask) == extendedMask && (owner & featureMask) == 0
    }
    public static func ttlValue(_ owner: Int64) -> Int64 { owner & ttlMaximum }
    /// True when the owner is a real session (an ephemeral node).
    public static func isSession(_ owner: Int64) -> Bool { owner != 0 && owner != container && !isTTL(owner) }
}

/// A ZooKeeper transaction id: the leader's epoch in the high 32 bits, a counter in the low 32
/// (ZxidUtils). Ordered as the signed 64-bit wire value, which is the order ZAB needs because
/// epochs stay below 2^31. The counter never wraps: `next` is nil at 0xffffffff and the leader
/// must then start a new epoch (ZooKeeper's XidRolloverException).
public struct Zxid: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public init(epoch: Int64, counter: Int64) {
        precondition(epoch >= 0 && epoch <= Int64(Int32.max), "zxid epoch out of range: \(epoch)")
        precondition(counter >= 0 && counter <= Zxid.counterMax, "zxid counter out of range: \(counter)")
        self.rawValue = (epoch << 32) | counter
    }

    public static let zero = Zxid(0)
    public static let counterMax: Int64 = 0xffff_ffff

    public var epoch: Int64 { rawValue >> 32 }
    public var counter: Int64 { rawValue & 0xffff_ffff }

    /// The next zxid in this epoch, or nil when the counter is exhausted (a new epoch is needed).
    public var next: Zxid? {
        counter == Zxid.counterMax ? nil : Zxid(rawValue + 1)
    }

    /// The zxid that opens an epoch (counter 0): what LEADERINFO and NEWLEADER carry.
    public static func epochStart(_ epoch: Int64) -> Zxid { Zxid(epoch: epoch, counter: 0) }

    public static func < (left: Zxid, right: Zxid) -> Bool { left.rawValue < right.rawValue }

    /// `0x` and lowercase hex, as ZooKeeper logs zxids (`Long.toHexString`).
    public var description: String { ZxidMath.hex(rawValue) }
}
