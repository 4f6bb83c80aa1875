import ZKBase

/// Why a log record broke the validity rule (FORMAT.md section 2). Corruption: the server stops
/// and names `paddock data verify` / `paddock data repair`; tools report it and may go on.
public struct LogRecordError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Fewer than `LogRecord.headerBytes` bytes.
        case tooShort
        case badMagic
        case unknownVersion(UInt8)
        /// Bytes 5..<8 are not 0. They sit outside the CRC, so only this check protects them.
        case reservedNotZero
        /// 24 + N differs from the stored value's length.
        case lengthMismatch
        /// `expected` is what the bytes and the chain compute; `actual` is what the record stores.
        case crcMismatch(expected: UInt32, actual: UInt32)
        /// The TxnHeader's zxid (`header`) differs from the key.
        case zxidMismatch(header: Int64)
        case undecodableTxn(String)
    }

    /// The key the record was stored under.
    public var zxid: Int64
    public var kind: Kind

    public init(zxid: Int64, kind: Kind) {
        self.zxid = zxid
        self.kind = kind
    }

    public var description: String {
        "log record \(ZxidMath.hex(zxid)): \(reason)"
    }

    private var reason: String {
        switch kind {
        case .tooShort: return "shorter than the \(LogRecord.headerBytes)-byte header"
        case .badMagic: return "bad magic (not a Paddock log record)"
        case .unknownVersion(let version): return "unknown record version \(version)"
        case .reservedNotZero: return "reserved header bytes are not zero"
        case .lengthMismatch: return "txn length field does not match the record length"
        case .crcMismatch(let expected, let actual):
            return "CRC mismatch (chain computes \(BigEndianBytes.hex(expected)), record stores \(BigEndianBytes.hex(actual)))"
        case .zxidMismatch(let header): return "txn header holds zxid \(ZxidMath.hex(header))"
        case .undecodableTxn(let reason): return "txn does not decode: \(reason)"
        }
    }
}
