package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which names are being issued right now and which ones failed last, seen by wrapping the {@link CertificateIssuer}
 * (every first issuance and renewal goes through it): the status page's "issuing" state, its list of failing names
 * and the {@code clicktls_certificates_failing} gauge, all from memory. The failures themselves (the CA's words,
 * the backoff) are {@code IssuanceFailures}'; this keeps only their names.
 *
 * <p>Threading: {@link #wrap}'s issuer runs where issuance runs (the blocking executor); {@link #seedFailing} reads
 * storage; the readers never block and run on any thread. Thread-safe.
 */
public final class IssuanceJournal {

    /**
     * Where {@code IssuanceFailures} keeps one entry per failing name ({@code state/issuance/<name>.json}).
     * Duplicated here for lack of a listing method there: keep the two in step.
     */
    static final String FAILURES_PREFIX = "state/issuance/";

    private static final Logger log = LoggerFactory.getLogger(IssuanceJournal.class);

    private final Map<String, Instant> running = new ConcurrentHashMap<>();
    private final Set<String> failing = ConcurrentHashMap.newKeySet();

    /** Learns the names that failed before this process started. Storage I/O: call on the blocking executor. */
    public void seedFailing(Storage storage) {
        try {
            for (String key : storage.list(FAILURES_PREFIX)) {
                if (key.endsWith(".json") && key.indexOf('/', FAILURES_PREFIX.length()) < 0) {
                    failing.add(key.substring(FAILURES_PREFIX.length(), key.length() - ".json".length()));
                }
            }
        } catch (IOException e) {
            log.warn("cannot list earlier issuance failures: {}", e.toString());
        }
    }

    /** {@code issuer}, reporting each attempt here. */
    public CertificateIssuer wrap(CertificateIssuer issuer) {
        return new CertificateIssuer() {
            @Override
            public CertifiedKey issue(String name) throws IssuanceException {
                running.put(name, Instant.now());
                try {
                    CertifiedKey certified = issuer.issue(name);
                    failing.remove(name);
                    return certified;
                } catch (IssuanceException | RuntimeException e) {
                    failing.add(name);
                    throw e;
                } finally {
                    running.remove(name);
                }
            }

            @Override
            public String label() {
                return issuer.label();
            }
        };
    }

    public boolean issuing(String name) {
        return running.containsKey(name);
    }

    /** Names whose last attempt failed. */
    public Collection<String> failingNames() {
        return List.copyOf(failing);
    }

    public int failingCount() {
        return failing.size();
    }

    /** The operator forgot {@code name}: its failure with it. */
    public void cleared(String name) {
        failing.remove(name);
    }
}
