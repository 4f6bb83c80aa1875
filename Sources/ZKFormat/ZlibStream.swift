import CZlib

/// zlib deflate (RFC 1950 stream). The z_stream lives at a fixed address because zlib keeps a
/// pointer back to it and rejects a moved stream.
final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>

    init(level: Int32) {
        precondition((1...9).contains(level), "zlib level must be 1...9 (0 means no compression)")
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit_(stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        // Fails only on a bad level, a zlib version mismatch or no memory: none is recoverable.
        precondition(status == Z_OK, "deflateInit failed: \(status)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses all of `input` into `output`, which drains to its file whenever it fills.
    /// `finish` ends the zlib stream (adler32 and end marker) after `input`.
    func compress(_ input: UnsafeRawBufferPointer, finish: Bool, into output: OutputBuffer) throws(SnapshotError) {
        precondition(input.count <= Int(UInt32.max), "deflate input chunk too large")
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer { stream.pointee.next_in = nil }
        while true {
            if output.freeBytes == 0 { try output.drain() }
            let free = output.freeSpace
            stream.pointee.next_out = free.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(free.count)
            let status = deflate(stream, finish ? Z_FINISH : Z_NO_FLUSH)
            output.commit(free.count - Int(stream.pointee.avail_out))
            precondition(status == Z_OK || status == Z_BUF_ERROR || status == Z_STREAM_END, "deflate failed: \(status)")
            if finish {
                if status == Z_STREAM_END { break }
            } else if stream.pointee.avail_out != 0 {
                break  // room was left over, so every input byte was taken
            }
        }
        precondition(stream.pointee.avail_in == 0, "deflate left input behind")
    }
}

/// zlib inflate, one step at a time; the caller owns both buffers.
final class Inflater {
    enum Step {
        case progress(consumed: Int, produced: Int)
        case streamEnd(consumed: Int, produced: Int)
        case failure(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit_(stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "inflateInit failed: \(status)")
        // No Adler-32 over the output (7 % of a restart): the reader checks the CRC32C of the
        // uncompressed stream and the file CRC, which cover everything Adler-32 would. zlib still
        // requires the 4 check bytes to be there, so a truncated stream is still an error.
        let validate = inflateValidate(stream, 0)
        precondition(validate == Z_OK, "inflateValidate failed: \(validate)")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func step(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> Step {
        precondition(output.count > 0 && output.count <= Int(UInt32.max) && input.count <= Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        let status = inflate(stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.pointee.avail_in)
        let produced = output.count - Int(stream.pointee.avail_out)
        switch status {
        case Z_OK, Z_BUF_ERROR: return .progress(consumed: consumed, produced: produced)
        case Z_STREAM_END: return .streamEnd(consumed: consumed, produced: produced)
        default:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
            return .failure(message)
        }
    }
}
