package io.clicktls.acme;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.certificates.CertificateIssuer;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.certificates.IssuerUnavailableException;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.config.HostNames;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.Security;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.shredzone.acme4j.AccountBuilder;
import org.shredzone.acme4j.Authorization;
import org.shredzone.acme4j.Login;
import org.shredzone.acme4j.Metadata;
import org.shredzone.acme4j.Order;
import org.shredzone.acme4j.OrderBuilder;
import org.shredzone.acme4j.Problem;
import org.shredzone.acme4j.RenewalInfo;
import org.shredzone.acme4j.Session;
import org.shredzone.acme4j.Status;
import org.shredzone.acme4j.challenge.Challenge;
import org.shredzone.acme4j.challenge.Http01Challenge;
import org.shredzone.acme4j.challenge.TlsAlpn01Challenge;
import org.shredzone.acme4j.connector.Resource;
import org.shredzone.acme4j.exception.AcmeException;
import org.shredzone.acme4j.exception.AcmeLazyLoadingException;
import org.shredzone.acme4j.exception.AcmeNetworkException;
import org.shredzone.acme4j.exception.AcmeNotSupportedException;
import org.shredzone.acme4j.exception.AcmeProtocolException;
import org.shredzone.acme4j.exception.AcmeRateLimitedException;
import org.shredzone.acme4j.exception.AcmeServerException;
import org.shredzone.acme4j.toolbox.JSON;
import org.shredzone.acme4j.toolbox.JSONBuilder;
import org.shredzone.acme4j.util.CSRBuilder;
import org.shredzone.acme4j.util.KeyPairUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issues certificates from an ACME CA with acme4j: one account (key in {@code acme/account-key.pem}, made once),
 * one warm {@link Session} and {@link Login} reused by every order, challenges answered through the
 * {@link ChallengeStore} in the configured order (tls-alpn-01, then http-01 by default), and fast polling. The key
 * for the next certificate is generated in the background while the current order runs.
 *
 * <p>When a challenge type fails for a name, the next order for that name tries the other type first.
 *
 * <p>Blocking: {@link #issue} runs on the issuance executor, never on an event loop. Thread-safe; concurrent calls
 * for different names share the session.
 */
public final class AcmeIssuer implements CertificateIssuer, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AcmeIssuer.class);

    /** How long each wait (validation, signing) may take before the order is given up. */
    static final Duration WAIT_TIMEOUT = Duration.ofSeconds(90);
    /** When to try again after the CA could not be reached: soon, the outage may be a blip. */
    static final Duration UNREACHABLE_RETRY = Duration.ofSeconds(30);
    /** When to try again after a rate limit the CA gave no Retry-After for. */
    static final Duration RATE_LIMIT_RETRY = Duration.ofHours(1);

    private static final String ERROR_PREFIX = "urn:ietf:params:acme:error:";
    /** Names the throwaway certificates of the warm-up; never ordered, never served ({@code .invalid}). */
    private static final String WARM_UP_NAME = "warm-up.invalid";

    private final Acme settings;
    private final Certificates.KeyType keyType;
    private final Storage storage;
    private final ChallengeStore challenges;
    private final Clock clock;
    private final String label;
    private final String accountKeyPath;
    private final String accountPath;
    private final TrustingAcmeProvider provider;
    private final Poller poller;
    private final ExecutorService keyMaker;
    private final Cache<String, ChallengeType> failedChallenge;

    private volatile Instant noRenewalInfoUntil = Instant.MIN;

    // guarded by this
    private Session session;
    private Login login;
    private CompletableFuture<KeyPair> nextKey;

    /**
     * @param settings the {@code certificates.acme} section
     * @param keyType the type of the certificate keys
     * @param storage where the account key and URL live
     * @param challenges where challenge answers are published for the listeners
     * @param clock for Retry-After instants and timeouts
     * @throws IOException when {@code trusted_ca} cannot be read
     */
    public AcmeIssuer(
            Acme settings, Certificates.KeyType keyType, Storage storage, ChallengeStore challenges, Clock clock)
            throws IOException {
        this(settings, keyType, storage, challenges, clock, null);
    }

    /**
     * One of several issuers ({@code certificates.issuers}).
     *
     * @param name the label recorded with its certificates, and the folder of its account under {@code acme/}; or
     *     {@code null} for the directory's host and the account in {@code acme/} itself (the single issuer's place)
     */
    public AcmeIssuer(
            Acme settings,
            Certificates.KeyType keyType,
            Storage storage,
            ChallengeStore challenges,
            Clock clock,
            String name)
            throws IOException {
        if (Security.getProvider(BouncyCastleProvider.PROVIDER_NAME) == null) {
            // acme4j makes EC keys and CSRs through the JCA; Bouncy Castle provides what the JDK lacks
            Security.addProvider(new BouncyCastleProvider());
        }
        this.settings = settings;
        this.keyType = keyType;
        this.storage = storage;
        this.challenges = challenges;
        this.clock = clock;
        if (name != null) {
            this.label = name;
            this.accountKeyPath = StorageKeys.accountKey(name);
            this.accountPath = StorageKeys.account(name);
        } else {
            this.label = settings.directory().getHost() == null
                    ? settings.directory().toString()
                    : settings.directory().getHost();
            this.accountKeyPath = StorageKeys.ACCOUNT_KEY;
            this.accountPath = StorageKeys.ACCOUNT;
        }
        try {
            this.provider = "https".equals(settings.directory().getScheme())
                    ? new TrustingAcmeProvider(settings.trustedCa())
                    : null;
        } catch (GeneralSecurityException e) {
            throw new IOException("trusted_ca: " + settings.trustedCa() + ": " + e.getMessage(), e);
        }
        this.poller = new Poller(clock, WAIT_TIMEOUT);
        this.keyMaker = Executors.newSingleThreadExecutor(runnable -> {
            var thread = new Thread(runnable, "clicktls-acme-keys");
            thread.setDaemon(true);
            return thread;
        });
        this.failedChallenge = Caffeine.newBuilder()
                .maximumSize(100_000)
                .expireAfterWrite(Duration.ofDays(1))
                .build();
        synchronized (this) {
            this.nextKey = CompletableFuture.supplyAsync(this::newCertificateKey, keyMaker);
        }
    }

    @Override
    public String label() {
        return label;
    }

    @Override
    public CertifiedKey issue(String name) throws IssuanceException {
        String host = HostNames.normalize(name);
        long start = System.nanoTime();
        try {
            CertifiedKey issued;
            Login current = login();
            try {
                issued = issueWith(current, host);
            } catch (AcmeServerException e) {
                if (!isAccountProblem(e)) {
                    throw e;
                }
                // the stored account is gone (a CA reset, a deactivation): find or register it again, once
                log.info("ACME account no longer usable at {} ({}); logging in again", label, describe(e));
                issued = issueWith(relogin(current), host);
            }
            log.debug("issued certificate for {} from {} in {} ms", host, label, millisSince(start));
            return issued;
        } catch (AcmeLazyLoadingException e) {
            throw failure(
                    host, e.getCause() instanceof AcmeException cause ? cause : new AcmeException(e.getMessage(), e));
        } catch (AcmeProtocolException e) {
            throw new IssuanceException("unexpected answer from " + label + " for " + host + ": " + e.getMessage(), e);
        } catch (AcmeException e) {
            throw failure(host, e);
        } catch (IOException e) {
            throw new IssuanceException(
                    "storage failed while ordering for " + host + ": " + e.getMessage(),
                    e,
                    clock.instant().plus(UNREACHABLE_RETRY));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IssuanceException("interrupted while ordering a certificate for " + host, e);
        }
    }

    /**
     * Fetches the directory and finds, checks or registers the account now, so that the first handshake for a new
     * name does not wait for it. Optional; failures are logged and left for {@link #issue} to report. Blocking: call on
     * the issuance executor at startup.
     */
    public void warmUp() {
        warmUp(certificate -> {});
    }

    /**
     * {@link #warmUp()}, then runs the local half of an order once, so that a customer's first handshake after a start
     * does not pay for loading and compiling it (about 0.7 s on a cold JVM): makes a throwaway tls-alpn-01 certificate,
     * rehearses it through the {@link ChallengeStore} (whose listener builds and frees its TLS context), signs a CSR,
     * and hands the certificate to {@code tls} (bind {@code TlsContexts::warmUp}: an in-memory handshake). Nothing is
     * sent to the CA for it. Blocking: call on the issuance executor at startup.
     */
    public void warmUp(Consumer<CertifiedKey> tls) {
        try {
            Login current = login();
            try {
                current.getAccount().fetch(); // proves the stored account still exists, and warms the connection
            } catch (AcmeServerException e) {
                if (!isAccountProblem(e)) {
                    throw e;
                }
                current = relogin(current);
            }
            long start = System.nanoTime();
            rehearseOrder(tls);
            log.info(
                    "ACME ready: {} as {} (local warm-up {} ms)",
                    label,
                    current.getAccountLocation(),
                    millisSince(start));
        } catch (AcmeException | IOException | RuntimeException e) {
            log.warn("ACME warm-up against {} failed (will retry on the first order): {}", label, e.toString());
        }
    }

    private void rehearseOrder(Consumer<CertifiedKey> tls) {
        try {
            CertifiedKey throwaway = AlpnChallengeCertificate.create(WARM_UP_NAME, new byte[32], clock);
            challenges.rehearseTlsAlpn01(throwaway);
            var csr = new CSRBuilder();
            csr.addDomain(WARM_UP_NAME);
            csr.sign(KeyPairUtils.createECKeyPair("secp256r1"));
            csr.getEncoded();
            tls.accept(throwaway);
        } catch (IOException | RuntimeException e) {
            log.debug("local ACME warm-up failed (the first order will be slower): {}", e.toString());
        }
    }

    /**
     * Checks that the CA offers the configured {@code profile} (its directory's {@code meta.profiles}), so that a
     * misspelt or withdrawn profile is a start-up error rather than every order failing. Without a profile
     * configured, does nothing and asks nothing. Blocking: one request for the directory.
     *
     * @throws ProfileNotOfferedException when the directory answers and does not list the profile; the message names
     *     the profiles it does offer
     * @throws AcmeException when the directory cannot be read (the CA may be down; orders check again)
     */
    public void checkProfile() throws AcmeException {
        String profile = settings.profile();
        if (profile == null) {
            return;
        }
        Metadata metadata;
        synchronized (this) {
            metadata = session().getMetadata();
        }
        if (!metadata.isProfileAllowed(profile)) {
            throw new ProfileNotOfferedException(profileProblem(profile, metadata.getProfiles()));
        }
    }

    private String profileProblem(String profile, Set<String> offered) {
        return "profile: '" + profile + "' is not offered by " + label + " (" + settings.directory() + ")"
                + (offered.isEmpty()
                        ? ": its directory lists no profiles; remove the profile line to take the CA's default"
                        : "; it offers: " + String.join(", ", new TreeSet<>(offered)));
    }

    /**
     * The CA's suggested renewal window (ACME Renewal Information, RFC 9773) for a certificate it issued, or empty
     * when the CA offers none (Pebble 2.4 does not): the {@link RenewalScheduler} then renews with a third of the
     * lifetime left. Bind as {@code issuer::renewalWindow}. Blocking: one HTTP request to the CA.
     */
    public Optional<RenewalScheduler.Window> renewalWindow(CertifiedKey certificate) throws AcmeException, IOException {
        if (!label.equals(certificate.issuer()) || clock.instant().isBefore(noRenewalInfoUntil)) {
            return Optional.empty();
        }
        Login current = login();
        if (current.getSession().resourceUrlOptional(Resource.RENEWAL_INFO).isEmpty()) {
            // asked again a day later: a CA can start offering ARI without clients restarting
            noRenewalInfoUntil = clock.instant().plus(Duration.ofDays(1));
            log.info("{} offers no renewal information (ARI); renewing with a third of the lifetime left", label);
            return Optional.empty();
        }
        RenewalInfo info = current.bindRenewalInfo(certificate.leaf());
        return Optional.of(new RenewalScheduler.Window(info.getSuggestedWindowStart(), info.getSuggestedWindowEnd()));
    }

    /** The account URL this issuer uses, logging in (and registering if needed) first. For tests and status. */
    public URL accountUrl() throws IssuanceException {
        try {
            return login().getAccountLocation();
        } catch (AcmeException e) {
            throw failure("the account", e);
        } catch (IOException e) {
            throw new IssuanceException("storage failed while logging in: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        keyMaker.shutdownNow();
    }

    private CertifiedKey issueWith(Login login, String host) throws AcmeException, InterruptedException, IOException {
        long start = System.nanoTime();
        OrderBuilder builder = login.newOrder().domain(host);
        if (settings.profile() != null) {
            builder.profile(settings.profile());
        }
        Order order;
        try {
            order = builder.create();
        } catch (AcmeNotSupportedException e) {
            // acme4j checks the profile against the directory before sending; say which profiles there are
            throw new ProfileNotOfferedException(profileProblem(
                    settings.profile(), login.getSession().getMetadata().getProfiles()));
        }
        long ordered = System.nanoTime();

        for (Authorization authorization : order.getAuthorizations()) {
            Status status = authorization.getStatus();
            if (status == Status.VALID) {
                continue; // reused by the CA: no challenge needed
            }
            if (status != Status.PENDING) {
                throw new AcmeException(
                        "authorization for " + authorization.getIdentifier().getValue() + " is "
                                + status.name().toLowerCase(Locale.ROOT));
            }
            answer(authorization);
        }
        long validated = System.nanoTime();

        KeyPair key = takeKey();
        var csr = new CSRBuilder();
        csr.addDomain(host);
        csr.sign(key);
        finalizeOrder(order, csr.getEncoded(), host);
        if (poller.await(order, "order for " + host, EnumSet.of(Status.VALID, Status.INVALID)) != Status.VALID) {
            throw new AcmeException("order for " + host + " failed: "
                    + order.getError().map(AcmeIssuer::describe).orElse("the CA gave no reason"));
        }
        var certificate = order.getCertificate();
        certificate.download();
        long done = System.nanoTime();
        log.debug(
                "order for {}: created {} ms, validated {} ms, signed {} ms",
                host,
                (ordered - start) / 1_000_000,
                (validated - ordered) / 1_000_000,
                (done - validated) / 1_000_000);
        return new CertifiedKey(host, key.getPrivate(), certificate.getCertificateChain(), label);
    }

    /** Answers one pending authorization with the preferred challenge type, waits for the CA, then withdraws. */
    private void answer(Authorization authorization) throws AcmeException, InterruptedException, IOException {
        String host = authorization.getIdentifier().getDomain();
        List<ChallengeType> preference = preference(host);
        for (ChallengeType type : preference) {
            Optional<Challenge> offered = authorization.findChallenge(type.wireName());
            if (offered.isEmpty()) {
                continue;
            }
            Challenge challenge = offered.get();
            Runnable withdraw = publish(type, challenge, host);
            try {
                if (challenge.getStatus() == Status.PENDING) {
                    challenge.trigger(); // a reused authorization may have its challenge under way already
                }
                Status status = poller.await(
                        challenge,
                        type.wireName() + " challenge for " + host,
                        EnumSet.of(Status.VALID, Status.INVALID));
                if (status == Status.INVALID) {
                    failedChallenge.put(host, type);
                    String reason =
                            challenge.getError().map(AcmeIssuer::describe).orElse("the CA gave no reason");
                    throw new ValidationFailedException(
                            type.wireName() + " validation of " + host + " failed: " + reason);
                }
                return;
            } finally {
                withdraw.run();
            }
        }
        var offeredTypes = new ArrayList<String>();
        authorization.getChallenges().forEach(c -> offeredTypes.add(c.getType()));
        throw new AcmeException("the CA offers none of the configured challenges "
                + settings.challenges().stream().map(ChallengeType::wireName).toList() + " for " + host
                + " (offered: " + offeredTypes + ")");
    }

    private Runnable publish(ChallengeType type, Challenge challenge, String host) throws IOException {
        switch (type) {
            case HTTP_01 -> {
                var http = (Http01Challenge) challenge;
                challenges.publishHttp01(http.getToken(), http.getAuthorization());
                return () -> challenges.withdrawHttp01(http.getToken());
            }
            case TLS_ALPN_01 -> {
                var alpn = (TlsAlpn01Challenge) challenge;
                challenges.publishTlsAlpn01(AlpnChallengeCertificate.create(host, alpn.getAcmeValidation(), clock));
                return () -> challenges.withdrawTlsAlpn01(host);
            }
            default -> throw new IllegalStateException("unknown challenge type " + type);
        }
    }

    /** The configured order, except that a type that failed last time for this name goes last. */
    List<ChallengeType> preference(String host) {
        List<ChallengeType> configured = settings.challenges();
        ChallengeType failed = failedChallenge.getIfPresent(host);
        if (failed == null || configured.size() < 2 || !configured.contains(failed)) {
            return configured;
        }
        var reordered = new ArrayList<ChallengeType>(configured);
        reordered.remove(failed);
        reordered.add(failed);
        return reordered;
    }

    private void finalizeOrder(Order order, byte[] csr, String host) throws AcmeException, InterruptedException {
        try {
            order.execute(csr);
        } catch (AcmeServerException e) {
            if (!(ERROR_PREFIX + "orderNotReady").equals(String.valueOf(e.getType()))) {
                throw e;
            }
            // a CA may flip the order to ready a moment after the last authorization turned valid
            Status status =
                    poller.await(order, "order for " + host, EnumSet.of(Status.READY, Status.INVALID, Status.VALID));
            if (status != Status.READY) {
                throw e;
            }
            order.execute(csr);
        }
    }

    private KeyPair takeKey() throws InterruptedException {
        CompletableFuture<KeyPair> ready;
        synchronized (this) {
            ready = nextKey;
            nextKey = CompletableFuture.supplyAsync(this::newCertificateKey, keyMaker);
        }
        try {
            return ready.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot generate a " + keyType + " key", e.getCause());
        }
    }

    private KeyPair newCertificateKey() {
        return switch (keyType) {
            case EC256 -> KeyPairUtils.createECKeyPair("secp256r1");
            case EC384 -> KeyPairUtils.createECKeyPair("secp384r1");
            case RSA2048 -> KeyPairUtils.createKeyPair(2048);
            case RSA4096 -> KeyPairUtils.createKeyPair(4096);
        };
    }

    // ---- account

    private synchronized Login login() throws AcmeException, IOException {
        if (login != null) {
            return login;
        }
        KeyPair accountKey = accountKey();
        Optional<URL> stored = storedAccountUrl();
        if (stored.isPresent()) {
            login = session().login(stored.get(), accountKey);
        } else {
            login = findOrRegister(accountKey);
        }
        return login;
    }

    /** Drops a login that the CA no longer accepts and finds or registers the account again. */
    private synchronized Login relogin(Login stale) throws AcmeException, IOException {
        if (login != stale && login != null) {
            return login; // another thread already did
        }
        session = null;
        login = findOrRegister(stale.getKeyPair());
        return login;
    }

    private Login findOrRegister(KeyPair accountKey) throws AcmeException, IOException {
        var builder = new AccountBuilder().agreeToTermsOfService().useKeyPair(accountKey);
        if (settings.email() != null && !settings.email().isBlank()) {
            builder.addEmail(settings.email());
        }
        Acme.ExternalAccountBinding eab = settings.eab();
        if (eab != null) {
            // acme4j signs the binding with HS256/384/512 by the key's length; the key itself is never logged
            builder.withKeyIdentifier(eab.keyId(), eab.hmacKey());
        } else if (session().getMetadata().isExternalAccountRequired()) {
            // said before asking, in words that name the setting; the CA would only answer externalAccountRequired
            throw new ExternalAccountRequiredException(label + " requires external account binding for new accounts:"
                    + " set certificates.acme.eab { kid, hmac_key } to the values the CA gives you");
        }
        // newAccount with a known key answers with the existing account, so this finds as well as registers
        Login fresh;
        try {
            fresh = builder.createLogin(session());
        } catch (AcmeRateLimitedException e) {
            throw e; // handled by type: wait for its Retry-After
        } catch (AcmeServerException e) {
            if ((ERROR_PREFIX + "externalAccountRequired").equals(String.valueOf(e.getType()))) {
                throw e;
            }
            throw new AccountRefusedException(label + " refused the ACME account"
                    + (eab == null ? "" : " with external account binding, kid " + eab.keyId()) + ": " + describe(e));
        }
        storeAccountUrl(fresh.getAccountLocation());
        log.info(
                "ACME account at {}: {}{}",
                label,
                fresh.getAccountLocation(),
                eab == null ? "" : " (external account binding, kid " + eab.keyId() + ")");
        return fresh;
    }

    /** Per request to the CA: connect and answer. Let's Encrypt answers in well under a second. */
    static final Duration NETWORK_TIMEOUT = Duration.ofSeconds(10);

    private Session session() {
        if (session == null) {
            // acme:// directories (acme4j's own providers) bring their own trust
            session =
                    provider != null ? new Session(settings.directory(), provider) : new Session(settings.directory());
            // acme4j waits 30 s per request by default: a CA that stops answering mid-connection would hold an
            // order (and the names waiting on it) that long before "CA unreachable" and the backoff take over.
            session.networkSettings().setTimeout(NETWORK_TIMEOUT);
        }
        return session;
    }

    /**
     * The account key in storage, made once for every node sharing it: two nodes starting together on an empty
     * database must not each make one (the last written would then sign for the other's account, and a node
     * restarted later would fail every order with "JWS verification error"), so a new key is written only inside one
     * {@link Storage#update} that finds none.
     */
    private KeyPair accountKey() throws IOException {
        Optional<byte[]> stored = storage.load(accountKeyPath);
        if (stored.isEmpty()) {
            var pem = new StringWriter();
            KeyPairUtils.writeKeyPair(KeyPairUtils.createECKeyPair("secp256r1"), pem);
            byte[] made = pem.toString().getBytes(StandardCharsets.US_ASCII);
            stored = storage.update(accountKeyPath, current -> current.isPresent() ? null : made);
            if (stored.isPresent() && Arrays.equals(stored.get(), made)) {
                log.info("made a new ACME account key ({})", accountKeyPath);
            }
        }
        byte[] key = stored.orElseThrow(() -> new IOException("no ACME account key in " + accountKeyPath));
        return KeyPairUtils.readKeyPair(
                new InputStreamReader(new ByteArrayInputStream(key), StandardCharsets.US_ASCII));
    }

    /** The account URL stored for this directory; an account URL of another CA is no use here. */
    private Optional<URL> storedAccountUrl() throws IOException {
        Optional<byte[]> stored = storage.load(accountPath);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        try {
            JSON json = JSON.parse(new String(stored.get(), StandardCharsets.UTF_8));
            if (!settings.directory().toString().equals(json.get("directory").asString())) {
                return Optional.empty();
            }
            return Optional.of(URI.create(json.get("location").asString()).toURL());
        } catch (RuntimeException | MalformedURLException e) {
            log.warn("ignoring unreadable {}: {}", accountPath, e.toString());
            return Optional.empty();
        }
    }

    private void storeAccountUrl(URL location) throws IOException {
        var json = new JSONBuilder();
        json.put("directory", settings.directory().toString());
        json.put("location", location.toString());
        storage.store(accountPath, json.toString().getBytes(StandardCharsets.UTF_8));
    }

    // ---- errors

    private static boolean isAccountProblem(AcmeServerException e) {
        String type = String.valueOf(e.getType());
        return type.equals(ERROR_PREFIX + "accountDoesNotExist") || type.equals(ERROR_PREFIX + "unauthorized");
    }

    IssuanceException failure(String host, AcmeException e) {
        Instant now = clock.instant();
        if (e instanceof AcmeRateLimitedException limited) {
            return new IssuerUnavailableException(
                    IssuerUnavailableException.Reason.RATE_LIMITED,
                    "rate limited by " + label + ": " + describe(limited),
                    e,
                    limited.getRetryAfter().orElse(now.plus(RATE_LIMIT_RETRY)));
        }
        if (e instanceof AcmeNetworkException) {
            String cause = e.getCause() == null ? e.getMessage() : rootMessage(e.getCause());
            return new IssuerUnavailableException(
                    IssuerUnavailableException.Reason.UNREACHABLE,
                    "CA unreachable: " + label + ": " + cause,
                    e,
                    now.plus(UNREACHABLE_RETRY));
        }
        if (e instanceof AcmeServerException server
                && (ERROR_PREFIX + "serverInternal").equals(String.valueOf(server.getType()))) {
            return new IssuerUnavailableException(
                    IssuerUnavailableException.Reason.UNREACHABLE,
                    "CA failing: " + label + ": " + describe(server),
                    e,
                    now.plus(UNREACHABLE_RETRY));
        }
        if (e instanceof ValidationFailedException) {
            return new IssuerUnavailableException(
                    IssuerUnavailableException.Reason.VALIDATION_FAILED, e.getMessage(), e, null);
        }
        if (e instanceof ProfileNotOfferedException
                || e instanceof ExternalAccountRequiredException
                || e instanceof AccountRefusedException) {
            return new IssuanceException(e.getMessage(), e);
        }
        if (e instanceof AcmeServerException server
                && (ERROR_PREFIX + "externalAccountRequired").equals(String.valueOf(server.getType()))) {
            return new IssuanceException(
                    label + " requires external account binding: " + describe(server)
                            + " (set certificates.acme.eab { kid, hmac_key } to the values the CA gives you)",
                    e);
        }
        if (e instanceof AcmeServerException server) {
            return new IssuanceException("the CA refused " + host + ": " + describe(server), e);
        }
        return new IssuanceException("ordering from " + label + " for " + host + " failed: " + e.getMessage(), e);
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage();
        return message == null || message.isBlank() ? root.getClass().getSimpleName() : message;
    }

    private static String describe(AcmeServerException e) {
        return describe(e.getProblem());
    }

    /** The CA's own words: the problem type without its URN prefix, the detail, and the sub-problems. */
    static String describe(Problem problem) {
        String type = String.valueOf(problem.getType());
        if (type.startsWith(ERROR_PREFIX)) {
            type = type.substring(ERROR_PREFIX.length());
        }
        var text = new StringBuilder(type);
        problem.getDetail().or(problem::getTitle).ifPresent(detail -> text.append(": ")
                .append(detail));
        for (Problem sub : problem.getSubProblems()) {
            text.append("; ");
            sub.getIdentifier().ifPresent(id -> text.append(id.getValue()).append(": "));
            text.append(describe(sub));
        }
        return text.toString();
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** The CA wants external account binding and none is configured; the message names the setting. */
    private static final class ExternalAccountRequiredException extends AcmeException {
        ExternalAccountRequiredException(String message) {
            super(message);
        }
    }

    /** The configured ACME profile is not in the CA's directory; the message names the ones it offers. */
    public static final class ProfileNotOfferedException extends AcmeException {
        ProfileNotOfferedException(String message) {
            super(message);
        }
    }

    /** The CA would not find or register the account; the message holds the CA's words. */
    private static final class AccountRefusedException extends AcmeException {
        AccountRefusedException(String message) {
            super(message);
        }
    }

    /** A challenge the CA judged invalid; its message is already the CA's words. */
    private static final class ValidationFailedException extends AcmeException {
        ValidationFailedException(String message) {
            super(message);
        }
    }
}
