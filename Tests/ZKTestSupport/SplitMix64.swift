// The seeded generator the tests share lives in ZKBase (the simulator uses it too).
@_exported import struct ZKBase.SplitMix64
