// Array's withUnsafe(Mutable)Bytes rethrow `any Error`; these keep a typed error typed.
extension Array where Element == UInt8 {
    func withRawBytes<Value, Failure: Error>(_ body: (UnsafeRawBufferPointer) throws(Failure) -> Value) throws(Failure) -> Value {
        let result: Result<Value, Failure> = withUnsafeBytes { raw in Result { () throws(Failure) in try body(raw) } }
        return try result.get()
    }

    mutating func withMutableRawBytes<Value, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Value
    ) throws(Failure) -> Value {
        let result: Result<Value, Failure> = withUnsafeMutableBytes { raw in Result { () throws(Failure) in try body(raw) } }
        return try result.get()
    }
}
