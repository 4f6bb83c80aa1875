import Benchmark
import ZKBase

/// CRC32C (log records, snapshot streams) and CRC32 (the tree digest), slicing-by-8 in software.
/// The seed changes every call so the optimizer cannot hoist the checksum out of the loop.
func checksumBenchmarks() {
    for (name, bytes) in [("1 KiB", 1024), ("64 KiB", 64 * 1024)] {
        let data = Fixture.value(bytes: bytes, seed: 3)
        Benchmark("CRC32C \(name)", configuration: BenchConfiguration.micro) { benchmark in
            data.withUnsafeBytes { raw in
                for index in benchmark.scaledIterations { blackHole(CRC32C.checksum(raw, seed: UInt32(index))) }
            }
        }
    }
    let kibibyte = Fixture.value(bytes: 1024, seed: 4)
    Benchmark("CRC32 1 KiB", configuration: BenchConfiguration.micro) { benchmark in
        kibibyte.withUnsafeBytes { raw in
            for index in benchmark.scaledIterations { blackHole(CRC32.checksum(raw, seed: UInt32(index))) }
        }
    }
}
