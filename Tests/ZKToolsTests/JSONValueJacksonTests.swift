import Testing
import ZKTools

/// `jacksonPretty` against text Apache ZooKeeper 3.8.0's admin server wrote (Jackson 2.14's
/// DefaultPrettyPrinter), and the double case in both layouts.
@Suite struct JSONValueJacksonTests {
    @Test func nestedObjectsArraysAndEmptyContainers() {
        let value = JSONValue.fields(
            ("connections", .array([.fields(("remote_socket_address", .string("127.0.0.1:52096")), ("interest_ops", .int(1)))])),
            ("secure_connections", .array([])),
            ("current_config", .fields([])),
            ("ids", .array([.int(1), .int(2)])),
            ("avg_latency", .double(22.2)),
            ("command", .string("stats")),
            ("error", .null))
        #expect(value.jacksonPretty == """
            {
              "connections" : [ {
                "remote_socket_address" : "127.0.0.1:52096",
                "interest_ops" : 1
              } ],
              "secure_connections" : [ ],
              "current_config" : { },
              "ids" : [ 1, 2 ],
              "avg_latency" : 22.2,
              "command" : "stats",
              "error" : null
            }
            """)
    }

    @Test func doublesAndEscapes() {
        #expect(JSONValue.double(0).compact == "0.0")
        #expect(JSONValue.double(.nan).compact == "null")
        #expect(JSONValue.double(.infinity).jacksonPretty == "null")
        #expect(JSONValue.fields(("a\"b", .string("line\nbreak"))).jacksonPretty == "{\n  \"a\\\"b\" : \"line\\nbreak\"\n}")
    }
}
