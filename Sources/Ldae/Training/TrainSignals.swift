import Foundation

/// SIGINT/SIGTERM set a flag; the trainer checkpoints at the next step boundary and stops. A second signal
/// while one is pending exits at once (the last checkpoint stays).
public enum TrainSignals {
    nonisolated(unsafe) static var pendingSignal: Int32 = 0

    public static func install() {
        for s in [SIGINT, SIGTERM] {
            signal(s) { sig in
                if TrainSignals.pendingSignal != 0 { _exit(128 + sig) }
                TrainSignals.pendingSignal = sig
            }
        }
    }
    public static var pending: Int32 { pendingSignal }
    public static func reset() { pendingSignal = 0 }
}
