extension ServerConfiguration {
    /// Checks the rules that span fields (or that a configuration built in code could break).
    /// `parse` runs this already; call it after changing fields by hand.
    public func validate() throws(ConfigurationError) {
        try validate(lineOf: { _ in nil })
    }

    func validate(lineOf: (String) -> Int?) throws(ConfigurationError) {
        try validateValues(lineOf: lineOf)
        try validateClientAddresses(lineOf: lineOf)
        try validateTLS(lineOf: lineOf)
        try validateMembership(lineOf: lineOf)
        try validateEnsembleLimits(lineOf: lineOf)
    }

    private func validateValues(lineOf: (String) -> Int?) throws(ConfigurationError) {
        if tickTimeMs <= 0 {
            throw invalid("tickTime", String(tickTimeMs), "expected a positive integer", lineOf)
        }
        if dataDirectory.isEmpty {
            throw invalid("dataDir", dataDirectory, "expected a non-empty value", lineOf)
        }
        for (key, port) in [("clientPort", clientPort), ("secureClientPort", secureClientPort)] {
            if let port, !ValueParsing.portRange.contains(port) {
                throw invalid(key, String(port), "expected a port from 1 to 65535, or 0 for none", lineOf)
            }
        }
        if sessionTimeoutMsMin < 0 {
            throw invalid("minSessionTimeout", String(sessionTimeoutMsMin), "expected a non-negative integer", lineOf)
        }
        if sessionTimeoutMsMin > sessionTimeoutMsMax {
            throw invalid(
                "minSessionTimeout", String(sessionTimeoutMsMin),
                "must not be larger than maxSessionTimeout, \(sessionTimeoutMsMax)", lineOf)
        }
    }

    private func validateClientAddresses(lineOf: (String) -> Int?) throws(ConfigurationError) {
        if let clientPortAddress, clientPort == nil {
            throw invalid("clientPortAddress", clientPortAddress, "clientPort is not set", lineOf)
        }
        if let secureClientPortAddress, secureClientPort == nil {
            throw invalid("secureClientPortAddress", secureClientPortAddress, "secureClientPort is not set", lineOf)
        }
    }

    /// `QuorumPeerConfig.parseDynamicConfig`'s rules on participants and observers.
    private func validateMembership(lineOf: (String) -> Int?) throws(ConfigurationError) {
        var seen: Set<Int64> = []
        for member in servers where !seen.insert(member.id).inserted {
            throw invalid(memberKey(member), member.configurationValue, "server id \(member.id) appears twice", lineOf)
        }
        let participantCount = participants.count
        if participantCount == 0 && !standaloneEnabled {
            throw invalid("standaloneEnabled", "false", "needs at least one participant server.N line", lineOf)
        }
        guard let observer = observers.first else { return }
        if participantCount == 0 {
            throw invalid(memberKey(observer), observer.configurationValue, "observers need participants", lineOf)
        }
        if participantCount == 1 && standaloneEnabled {
            throw invalid(
                memberKey(observer), observer.configurationValue,
                "observers need two or more participants, or standaloneEnabled=false", lineOf)
        }
    }

    private func validateEnsembleLimits(lineOf: (String) -> Int?) throws(ConfigurationError) {
        guard isDistributed else { return }
        for (key, ticks) in [("initLimit", initLimitTicks), ("syncLimit", syncLimitTicks)] where ticks <= 0 {
            throw ConfigurationError(
                kind: .missingValue, key: key,
                message: "missing value for \(key) (an ensemble needs a positive number of ticks)",
                line: lineOf(key))
        }
    }

    private func memberKey(_ member: QuorumMember) -> String { "server.\(member.id)" }

    private func invalid(
        _ key: String, _ value: String, _ expectation: String, _ lineOf: (String) -> Int?
    ) -> ConfigurationError {
        .invalidValue(key: key, value: value, expected: expectation, line: lineOf(key))
    }
}
