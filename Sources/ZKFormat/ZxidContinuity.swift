import ZKBase

/// The chain rule of FORMAT.md section 2: within an epoch (zxid >> 32) each counter is the
/// previous plus one, and a new, higher epoch starts at counter 1.
public enum ZxidContinuity {
    public static func follows(_ next: Int64, after previous: Int64) -> Bool {
        let nextEpoch = ZxidMath.epoch(next)
        let previousEpoch = ZxidMath.epoch(previous)
        let nextCounter = ZxidMath.counter(next)
        if nextEpoch == previousEpoch { return nextCounter == ZxidMath.counter(previous) + 1 }
        return nextEpoch > previousEpoch && nextCounter == 1
    }
}
