package io.clicktls.pki;

import java.security.Provider;
import java.security.Security;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/** Registers Bouncy Castle as a JCA provider, which acme4j needs for its key and CSR helpers. Thread-safe. */
public final class JcaProviders {

    private JcaProviders() {}

    /**
     * Adds Bouncy Castle after the JDK's own providers, once per JVM; later calls do nothing. It goes last so that
     * keys and certificates keep coming from the JDK's providers, which both TLS providers handle natively.
     */
    public static synchronized Provider registerBouncyCastle() {
        Provider existing = Security.getProvider(BouncyCastleProvider.PROVIDER_NAME);
        if (existing != null) {
            return existing;
        }
        Provider provider = new BouncyCastleProvider();
        Security.addProvider(provider);
        return provider;
    }
}
