package io.clicktls.testing;

import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.Domain;
import io.clicktls.config.Endpoint;
import io.clicktls.config.Listen;
import io.clicktls.config.OnDemand;
import io.clicktls.config.Platform;
import io.clicktls.config.StorageSettings;
import io.clicktls.config.Upgrade;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A config built in code for tests that need one but no file: every listener on 127.0.0.1 port 0, the internal
 * issuer with EC P-256 keys, no ACME section, the rest as given.
 */
public final class ConfigInCode {

    private ConfigInCode() {}

    public static ClickTlsConfig internalIssuer(
            Path storage,
            Duration handshakeWait,
            Map<String, Platform> platforms,
            List<Domain> domains,
            Upgrade upgrade) {
        Endpoint any = new Endpoint("127.0.0.1", 0);
        return new ClickTlsConfig(
                new Listen(any, any, any),
                new StorageSettings(storage),
                new Certificates(
                        Certificates.IssuerKind.INTERNAL,
                        Certificates.KeyType.EC256,
                        null,
                        new OnDemand(null, handshakeWait)),
                platforms,
                domains,
                upgrade,
                null);
    }
}
