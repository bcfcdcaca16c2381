package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;
import java.net.InetAddress;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Certificates by host name, for the listeners. The lookup order (memory, storage, policy, issuer; single flight per
 * name) is written down once, in this package's {@code package-info.java}.
 */
public interface CertificateSource {

    /** Runs on any thread, event loops included: memory only, never I/O. Empty unless valid now. */
    Optional<CertifiedKey> cached(String name);

    /**
     * The certificate for {@code name}: from memory, else storage, else issued now if the policy allows. Never
     * blocks the caller; the future completes on another thread, exceptionally when the name is refused or
     * issuance fails. Callers that must not wait long add their own timeout on a copy
     * ({@code certificate(n).copy().completeOnTimeout(...)}); timing out never cancels the issuance.
     */
    CompletableFuture<CertifiedKey> certificate(String name);

    /**
     * {@link #certificate(String)} asked for by a connection from {@code client} ({@code null}: unknown), whose
     * budgets a new name's order spends.
     */
    default CompletableFuture<CertifiedKey> certificate(String name, InetAddress client) {
        return certificate(name);
    }

    /**
     * Whether a lookup of {@code name} is under way, which another caller would join rather than start (and which
     * then needs no slot of its own). Memory only; any thread.
     */
    default boolean lookingUp(String name) {
        return false;
    }
}
