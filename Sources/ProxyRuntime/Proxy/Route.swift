/// Which upstream a client connection is for.
enum Route: Sendable, CustomStringConvertible {
    case bootstrap
    /// A per-broker listener: whichever broker of the active cluster holds that port's slot.
    case broker(port: UInt16)

    var description: String {
        switch self {
        case .bootstrap: "bootstrap"
        case .broker(let port): "broker port \(port)"
        }
    }
}
