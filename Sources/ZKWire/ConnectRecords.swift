import NIOCore
import ZKBase

/// The first frame a client sends: no RequestHeader. `readOnly` is a trailing byte old clients omit.
public struct ConnectRequest: Sendable, Hashable, JuteRecord {
    public var protocolVersion: Int32
    public var lastZxidSeen: Int64
    public var timeoutMs: Int32
    public var sessionId: Int64
    public var password: [UInt8]
    public var readOnly: Bool?

    public init(
        protocolVersion: Int32 = 0, lastZxidSeen: Int64 = 0, timeoutMs: Int32, sessionId: Int64 = 0,
        password: [UInt8] = [UInt8](repeating: 0, count: 16), readOnly: Bool? = false
    ) {
        self.protocolVersion = protocolVersion
        self.lastZxidSeen = lastZxidSeen
        self.timeoutMs = timeoutMs
        self.sessionId = sessionId
        self.password = password
        self.readOnly = readOnly
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(protocolVersion)
        buffer.writeJuteLong(lastZxidSeen)
        buffer.writeJuteInt(timeoutMs)
        buffer.writeJuteLong(sessionId)
        buffer.writeJuteBuffer(password)
        if let readOnly { buffer.writeJuteBool(readOnly) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        protocolVersion = try buffer.readJuteInt("ConnectRequest.protocolVersion")
        lastZxidSeen = try buffer.readJuteLong("ConnectRequest.lastZxidSeen")
        timeoutMs = try buffer.readJuteInt("ConnectRequest.timeOut")
        sessionId = try buffer.readJuteLong("ConnectRequest.sessionId")
        password = try buffer.readJuteBuffer("ConnectRequest.passwd") ?? []
        readOnly = buffer.readableBytes > 0 ? try buffer.readJuteBool("ConnectRequest.readOnly") : nil
    }
}

public struct ConnectResponse: Sendable, Hashable, JuteRecord {
    public var protocolVersion: Int32
    public var timeoutMs: Int32
    public var sessionId: Int64
    public var password: [UInt8]
    /// Written only for clients that sent the readOnly byte themselves (ZooKeeper's isOldClient rule).
    public var readOnly: Bool?

    public init(protocolVersion: Int32 = 0, timeoutMs: Int32, sessionId: Int64, password: [UInt8], readOnly: Bool? = false) {
        self.protocolVersion = protocolVersion
        self.timeoutMs = timeoutMs
        self.sessionId = sessionId
        self.password = password
        self.readOnly = readOnly
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(protocolVersion)
        buffer.writeJuteInt(timeoutMs)
        buffer.writeJuteLong(sessionId)
        buffer.writeJuteBuffer(password)
        if let readOnly { buffer.writeJuteBool(readOnly) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        protocolVersion = try buffer.readJuteInt("ConnectResponse.protocolVersion")
        timeoutMs = try buffer.readJuteInt("ConnectResponse.timeOut")
        sessionId = try buffer.readJuteLong("ConnectResponse.sessionId")
        password = try buffer.readJuteBuffer("ConnectResponse.passwd") ?? []
        readOnly = buffer.readableBytes > 0 ? try buffer.readJuteBool("ConnectResponse.readOnly") : nil
    }
}

public struct RequestHeader: Sendable, Hashable, JuteRecord {
    public var xid: Int32
    public var type: Int32

    public init(xid: Int32, type: Int32) {
        self.xid = xid
        self.type = type
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(xid)
        buffer.writeJuteInt(type)
    }

    public init(from buffer: inout ByteBuffer) throws {
        xid = try buffer.readJuteInt("RequestHeader.xid")
        type = try buffer.readJuteInt("RequestHeader.type")
    }
}

public struct ReplyHeader: Sendable, Hashable, JuteRecord {
    public var xid: Int32
    public var zxid: Int64
    public var err: Int32

    public init(xid: Int32, zxid: Int64, err: Int32) {
        self.xid = xid
        self.zxid = zxid
        self.err = err
    }

    public static let encodedSize = 16

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteRecord(byteCount: Self.encodedSize) { store(into: &$0) }
    }

    func store(into writer: inout JuteRawWriter) {
        writer.int32(xid)
        writer.int64(zxid)
        writer.int32(err)
    }

    public init(from buffer: inout ByteBuffer) throws {
        xid = try buffer.readJuteInt("ReplyHeader.xid")
        zxid = try buffer.readJuteLong("ReplyHeader.zxid")
        err = try buffer.readJuteInt("ReplyHeader.err")
    }
}

/// Special xids (ClientCnxn).
public enum SpecialXid {
    public static let notification: Int32 = -1
    public static let ping: Int32 = -2
    public static let auth: Int32 = -4
    public static let setWatches: Int32 = -8
}

/// WatcherEvent{type, state, path}, sent with xid -1.
public struct WatcherEvent: Sendable, Hashable, JuteRecord {
    public var type: Int32
    public var state: Int32
    public var path: String

    public init(type: EventType, state: KeeperState = .syncConnected, path: String) {
        self.type = type.rawValue
        self.state = state.rawValue
        self.path = path
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(type)
        buffer.writeJuteInt(state)
        buffer.writeJuteString(path)
    }

    public init(from buffer: inout ByteBuffer) throws {
        type = try buffer.readJuteInt("WatcherEvent.type")
        state = try buffer.readJuteInt("WatcherEvent.state")
        path = try buffer.readJuteNonNullString("WatcherEvent.path")
    }
}
