package io.clicktls.tls;

import io.netty.handler.ssl.OpenSslX509KeyManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.KeyStoreSpi;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.util.Collections;
import java.util.Date;
import java.util.Enumeration;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.KeyManagerFactorySpi;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The key and chain of one server context, handed to Netty so that it converts them for BoringSSL while it builds the
 * context instead of on the context's first handshake: {@link OpenSslX509KeyManagerFactory} converts every entry of its
 * key store once, when a context takes the factory. A context is built on the certificate loader's thread; its first
 * handshake runs on an event loop, which a name not in memory waits for (issue 6), so the conversion (PEM encoding,
 * BoringSSL parsing the chain and key: ~50 µs) moves off the loop.
 *
 * <p>No PKCS#12 on the way (whose key encryption costs milliseconds): the key store is one entry in memory, and the key
 * manager that answers Netty is {@link CertifiedKeyManager}, through a JCA provider of our own that is never
 * installed. Stateless; thread-safe.
 */
final class CertifiedKeyManagerFactory {

    private static final String ALGORITHM = "clicktls-certified-key";
    private static final String ALIAS = "clicktls";
    private static final Provider PROVIDER = new CertifiedKeyProvider();

    private CertifiedKeyManagerFactory() {}

    /** A factory whose key material BoringSSL gets when a context is built from it. Blocking work: not on a loop. */
    static KeyManagerFactory forBoringSsl(PrivateKey key, X509Certificate[] chain) throws SSLException {
        try {
            OpenSslX509KeyManagerFactory factory = new OpenSslX509KeyManagerFactory(ALGORITHM, PROVIDER);
            factory.init(OneEntryKeyStore.of(key, chain), null);
            return factory;
        } catch (GeneralSecurityException e) {
            throw new SSLException("cannot hand the key to BoringSSL: " + e, e);
        }
    }

    /** Provides {@link CertifiedKeyManagerSpi} to {@link OpenSslX509KeyManagerFactory}; never installed globally. */
    private static final class CertifiedKeyProvider extends Provider {

        private static final long serialVersionUID = 1L;

        CertifiedKeyProvider() {
            super("clicktls-keys", "1", "the key manager of one clicktls server context");
            putService(
                    new Service(
                            this, "KeyManagerFactory", ALGORITHM, CertifiedKeyManagerSpi.class.getName(), null, null) {
                        @Override
                        public Object newInstance(Object parameter) {
                            return new CertifiedKeyManagerSpi();
                        }
                    });
        }
    }

    /** Makes a {@link CertifiedKeyManager} of the one entry of a {@link OneEntryKeyStore}. */
    private static final class CertifiedKeyManagerSpi extends KeyManagerFactorySpi {

        private KeyManager manager;

        @Override
        protected void engineInit(KeyStore store, char[] password) throws KeyStoreException {
            try {
                Key key = store.getKey(ALIAS, password);
                Certificate[] chain = store.getCertificateChain(ALIAS);
                if (!(key instanceof PrivateKey privateKey) || !(chain instanceof X509Certificate[] x509)) {
                    throw new KeyStoreException("not a key store of " + CertifiedKeyManagerFactory.class.getName());
                }
                manager = new CertifiedKeyManager(privateKey, x509);
            } catch (GeneralSecurityException e) {
                throw new KeyStoreException(e);
            }
        }

        @Override
        protected void engineInit(ManagerFactoryParameters parameters) {
            throw new UnsupportedOperationException("a key store only");
        }

        @Override
        protected KeyManager[] engineGetKeyManagers() {
            if (manager == null) {
                throw new IllegalStateException("not initialised");
            }
            return new KeyManager[] {manager};
        }
    }

    /** A read-only key store of one key entry, in memory: what {@link OpenSslX509KeyManagerFactory} takes. */
    private static final class OneEntryKeyStore extends KeyStoreSpi {

        private final PrivateKey key;
        private final X509Certificate[] chain;
        private final Date created = new Date();

        private OneEntryKeyStore(PrivateKey key, X509Certificate[] chain) {
            this.key = key;
            this.chain = chain;
        }

        static KeyStore of(PrivateKey key, X509Certificate[] chain) throws GeneralSecurityException {
            KeyStore store = new KeyStore(new OneEntryKeyStore(key, chain), PROVIDER, "clicktls") {};
            try {
                store.load(null, null);
            } catch (IOException e) {
                throw new KeyStoreException(e); // loads nothing: cannot happen
            }
            return store;
        }

        @Override
        public Key engineGetKey(String alias, char[] password) {
            return ALIAS.equals(alias) ? key : null;
        }

        @Override
        public Certificate[] engineGetCertificateChain(String alias) {
            return ALIAS.equals(alias) ? chain : null; // the same array: Netty compares key material by instance
        }

        @Override
        public Certificate engineGetCertificate(String alias) {
            return ALIAS.equals(alias) ? chain[0] : null;
        }

        @Override
        public Date engineGetCreationDate(String alias) {
            return ALIAS.equals(alias) ? new Date(created.getTime()) : null;
        }

        @Override
        public void engineSetKeyEntry(String alias, Key key, char[] password, Certificate[] chain)
                throws KeyStoreException {
            throw new KeyStoreException("read only");
        }

        @Override
        public void engineSetKeyEntry(String alias, byte[] key, Certificate[] chain) throws KeyStoreException {
            throw new KeyStoreException("read only");
        }

        @Override
        public void engineSetCertificateEntry(String alias, Certificate cert) throws KeyStoreException {
            throw new KeyStoreException("read only");
        }

        @Override
        public void engineDeleteEntry(String alias) throws KeyStoreException {
            throw new KeyStoreException("read only");
        }

        @Override
        public Enumeration<String> engineAliases() {
            return Collections.enumeration(Collections.singletonList(ALIAS));
        }

        @Override
        public boolean engineContainsAlias(String alias) {
            return ALIAS.equals(alias);
        }

        @Override
        public int engineSize() {
            return 1;
        }

        @Override
        public boolean engineIsKeyEntry(String alias) {
            return ALIAS.equals(alias);
        }

        @Override
        public boolean engineIsCertificateEntry(String alias) {
            return false;
        }

        @Override
        public String engineGetCertificateAlias(Certificate cert) {
            return chain[0].equals(cert) ? ALIAS : null;
        }

        @Override
        public void engineStore(OutputStream stream, char[] password) {
            throw new UnsupportedOperationException("in memory only");
        }

        @Override
        public void engineLoad(InputStream stream, char[] password) {
            // nothing to load: the entry is given to the constructor
        }
    }

    /**
     * Serves one key and chain to Netty, for whichever key type the handshake asks for that the key is. Returns the
     * same chain array and key on every call.
     */
    private static final class CertifiedKeyManager extends X509ExtendedKeyManager {

        private final PrivateKey key;
        private final X509Certificate[] chain;
        private final boolean ec;

        CertifiedKeyManager(PrivateKey key, X509Certificate[] chain) {
            this.key = key;
            this.chain = chain;
            // Bouncy Castle names its EC keys "ECDSA", the JDK "EC": ask the interface, not the name
            this.ec = key instanceof ECKey;
        }

        /** Key types as the JDK and Netty name them: EC, EC_EC, EC_RSA (ECDSA keys), RSA, RSASSA-PSS (RSA keys). */
        private String aliasFor(String keyType) {
            if (keyType == null) {
                return null;
            }
            boolean wantsEc = keyType.equals("EC") || keyType.startsWith("EC_");
            boolean wantsRsa = keyType.equals("RSA") || keyType.equals("RSASSA-PSS");
            return (ec && wantsEc) || (!ec && key instanceof RSAKey && wantsRsa) ? ALIAS : null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return aliasFor(keyType);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return aliasFor(keyType);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return aliasFor(keyType) == null ? null : new String[] {ALIAS};
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return ALIAS.equals(alias) ? chain : null;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return ALIAS.equals(alias) ? key : null;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null; // a server's key manager: never a client
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }
}
