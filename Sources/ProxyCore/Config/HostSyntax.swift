/// Syntax checks for hosts and ports. Deliberately no name resolution: validation must be pure and
/// fast, and a name that does not resolve yet (DNS of a DR site) is not a config error.
enum HostSyntax {
    static func isWildcard(_ host: String) -> Bool {
        host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0"
    }

    /// A hostname, an IPv4 address or an IPv6 address (unbracketed).
    static func isValidHost(_ host: String) -> Bool {
        host.contains(":") ? isIPv6(host) : isHostnameOrIPv4(host)
    }

    /// A bare host (no port) as written for listener.host/advertisedHost. Accepts `[v6]` too and
    /// returns the host without brackets.
    static func parseHost(_ text: String) -> Result<String, HostPortSyntaxError> {
        var host = text
        if host.hasPrefix("[") && host.hasSuffix("]") && host.count >= 2 {
            host = String(host.dropFirst().dropLast())
            guard isIPv6(host) else { return .failure(HostPortSyntaxError("'\(host)' inside brackets is not an IPv6 address")) }
            return .success(host)
        }
        if host.isEmpty { return .failure(HostPortSyntaxError("the host is empty")) }
        if host.contains(":") {
            if isIPv6(host) { return .success(host) }
            return .failure(HostPortSyntaxError("expected a host without a port (a hostname, IPv4 or IPv6 address)"))
        }
        guard isHostnameOrIPv4(host) else {
            return .failure(HostPortSyntaxError("'\(host)' is not a valid hostname or IP address"))
        }
        return .success(host)
    }

    static func parseHostPort(_ text: String) throws(HostPortSyntaxError) -> ProxyConfig.HostPort {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw HostPortSyntaxError("missing ']' after the IPv6 address")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw HostPortSyntaxError("expected ':port' after ']' (e.g. [::1]:9092)")
            }
            guard isIPv6(host) else {
                throw HostPortSyntaxError("'\(host)' inside brackets is not an IPv6 address")
            }
            portText = rest.dropFirst()
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons == 0 {
                throw HostPortSyntaxError("missing port (expected host:port)")
            }
            if colons > 1 {
                throw HostPortSyntaxError("an IPv6 address must be written in brackets (e.g. [::1]:9092)")
            }
            let colon = text.firstIndex(of: ":")!
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.isEmpty { throw HostPortSyntaxError("the host is empty") }
            guard isHostnameOrIPv4(host) else {
                throw HostPortSyntaxError("'\(host)' is not a valid hostname or IP address")
            }
        }
        guard let port = parsePort(portText) else {
            throw HostPortSyntaxError(portText.isEmpty
                ? "the port is empty"
                : "port '\(portText)' is not a number between 1 and 65535")
        }
        return ProxyConfig.HostPort(host: host, port: port)
    }

    static func parsePort<S: StringProtocol>(_ text: S) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = Int(text), (1...65535).contains(value) else { return nil }
        return UInt16(value)
    }

    // Hostname labels allow '_' because Kafka brokers in the wild (docker-compose service names)
    // use it, even though RFC 1123 does not.
    static func isHostnameOrIPv4(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        let trimmed = host.hasSuffix(".") ? String(host.dropLast()) : host
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ isLabel($0) }) else { return false }
        // All-numeric dotted names are IPv4 attempts: hold them to IPv4 rules instead of letting
        // "300.1.1.1" pass as a hostname.
        if labels.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) {
            return labels.count == 4 && labels.allSatisfy { $0.count <= 3 && Int($0)! <= 255 }
        }
        return true
    }

    private static func isLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.count <= 63, label.first != "-", label.last != "-" else { return false }
        return label.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
            default: return false
            }
        }
    }

    /// RFC 4291 text form, optionally with a trailing embedded IPv4 and a `%zone`.
    static func isIPv6(_ text: String) -> Bool {
        var address = Substring(text)
        if let percent = address.firstIndex(of: "%") {
            let zone = address[address.index(after: percent)...]
            guard !zone.isEmpty else { return false }
            address = address[..<percent]
        }
        guard address.contains(":") else { return false }
        let halves = address.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (halfIndex, half) in halves.enumerated() {
            if half.isEmpty { continue }
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                let isLastOverall = halfIndex == halves.count - 1 && index == parts.count - 1
                if isLastOverall && part.contains(".") {
                    guard isHostnameOrIPv4(String(part)), part.split(separator: ".").count == 4 else { return false }
                    groups += 2
                    continue
                }
                guard (1...4).contains(part.count), part.allSatisfy({ $0.isHexDigit }) else { return false }
                groups += 1
            }
        }
        return halves.count == 2 ? groups < 8 : groups == 8
    }
}

private extension Substring {
    /// Splits on the first "::" only; a second "::" shows up as a third element so callers can reject it.
    func components(separatedByDoubleColon _: Void) -> [Substring] {
        var result: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: "::") {
            result.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        result.append(rest)
        return result
    }
}
