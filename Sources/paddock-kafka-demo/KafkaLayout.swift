import Foundation

/// Kafka 2.8's ZooKeeper layout and JSON (kafka.zk.ZkData), so Kafka's ZooKeeper-era tooling
/// could read what the demo writes.
enum KafkaPaths {
    static let brokers = "/brokers"
    static let brokerIds = "/brokers/ids"
    static let topics = "/brokers/topics"
    static let controller = "/controller"
    static let controllerEpoch = "/controller_epoch"
    /// Everything the demo owns (removed before a run, and by `--cleanup`).
    static let owned = [brokers, controller, controllerEpoch]
    /// Created before the brokers start, parents first.
    static let persistent = [brokers, brokerIds, topics]

    static func broker(_ id: Int) -> String { "\(brokerIds)/\(id)" }
    static func topic(_ name: String) -> String { "\(topics)/\(name)" }
    static func partitions(_ topic: String) -> String { "\(self.topic(topic))/partitions" }
    static func partition(_ topic: String, _ partition: Int) -> String { "\(partitions(topic))/\(partition)" }
    static func state(_ topic: String, _ partition: Int) -> String { "\(self.partition(topic, partition))/state" }
}

/// `/brokers/ids/N`, version 5 (Kafka 2.7+).
struct BrokerRegistration: Codable, Equatable {
    var version = 5
    var host: String
    var port: Int
    var endpoints: [String]
    var jmxPort = -1
    var timestamp: String
    var listenerSecurityProtocolMap = ["PLAINTEXT": "PLAINTEXT"]
    var features: [String: [String: Int]] = [:]

    enum CodingKeys: String, CodingKey {
        case version, host, port, endpoints, timestamp, features
        case jmxPort = "jmx_port"
        case listenerSecurityProtocolMap = "listener_security_protocol_map"
    }

    init(host: String, port: Int, timestampMs: Int64) {
        self.host = host
        self.port = port
        endpoints = ["PLAINTEXT://\(host):\(port)"]
        timestamp = String(timestampMs)
    }
}

/// `/controller`: who controls (Kafka writes the timestamp as a string).
struct ControllerRegistration: Codable, Equatable {
    var version = 1
    var brokerid: Int
    var timestamp: String
}

/// `/brokers/topics/T`: partition -> replicas (version 2, with Kafka 2.8's topic id).
struct TopicAssignment: Codable, Equatable {
    var version = 2
    var partitions: [String: [Int]]
    var addingReplicas: [String: [Int]] = [:]
    var removingReplicas: [String: [Int]] = [:]
    var topicId: String

    enum CodingKeys: String, CodingKey {
        case version, partitions
        case addingReplicas = "adding_replicas"
        case removingReplicas = "removing_replicas"
        case topicId = "topic_id"
    }

    func replicas(of partition: Int) -> [Int] { partitions[String(partition)] ?? [] }
}

/// `/brokers/topics/T/partitions/P/state`: leader, ISR and the epochs that fence them.
struct PartitionState: Codable, Equatable {
    var controllerEpoch: Int
    var leader: Int
    var version = 1
    var leaderEpoch: Int
    var isr: [Int]

    enum CodingKeys: String, CodingKey {
        case leader, version, isr
        case controllerEpoch = "controller_epoch"
        case leaderEpoch = "leader_epoch"
    }

    /// Kafka's "no leader".
    static let noLeader = -1
}

enum KafkaJSON {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail.
        return Array(try! encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]?, at path: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes ?? []))
        } catch {
            throw DemoFailure("\(path) does not hold Kafka's \(type) JSON: \(String(decoding: bytes ?? [], as: UTF8.self))")
        }
    }

    /// A Kafka topic id: 16 random bytes, URL-safe base64 without padding (org.apache.kafka.common.Uuid).
    static func topicId() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
