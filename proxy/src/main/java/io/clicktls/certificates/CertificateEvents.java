package io.clicktls.certificates;

import io.clicktls.pki.CertifiedKey;
import java.util.function.Consumer;

/**
 * What the certificate wing tells the rest of the node about the certificates it serves, so that what is built from
 * a certificate (its TLS context) follows the one cache of certificates instead of being kept in step by hand. The
 * server wiring connects these to the TLS contexts.
 *
 * <p>Called synchronously by the thread that made the change; a listener must be quick and must not call back into
 * the resolver.
 */
public interface CertificateEvents {

    /**
     * {@code certified} is about to be served (read from storage or just issued), before any caller waiting for it
     * is told: build what serving it needs now. Runs on the loads or the blocking executor, never an event loop, so it
     * may do a little blocking work; a failure is logged and the work is left to the first handshake.
     */
    void ready(CertifiedKey certified) throws Exception;

    /**
     * {@code certified} left memory (evicted, replaced by a renewal, expired or forgotten): drop what was built for
     * it. Any thread, event loops included: must not block.
     */
    void removed(CertifiedKey certified);

    /** Nobody listens. */
    CertificateEvents NONE = of(certified -> {}, certified -> {});

    /** Something that may fail while building for a certificate. */
    interface Preparation {
        void prepare(CertifiedKey certified) throws Exception;
    }

    static CertificateEvents of(Preparation ready, Consumer<CertifiedKey> removed) {
        return new CertificateEvents() {
            @Override
            public void ready(CertifiedKey certified) throws Exception {
                ready.prepare(certified);
            }

            @Override
            public void removed(CertifiedKey certified) {
                removed.accept(certified);
            }
        };
    }
}
