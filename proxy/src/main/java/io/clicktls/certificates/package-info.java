/**
 * Where a certificate comes from, and who decides: every piece of getting, keeping and renewing a certificate.
 *
 * <h2>The lookup order</h2>
 *
 * {@link io.clicktls.certificates.CertificateResolver} answers "the certificate for this host name" for the TLS and
 * plain-http listeners ({@link io.clicktls.certificates.CertificateSource}), for a name lower-cased and without a
 * trailing dot, in this order (written down here only):
 * <ol>
 *   <li><b>memory</b>: a bounded Caffeine cache of certificates by name, the one cache of certificates; a hit answers at
 *       once on the calling thread;</li>
 *   <li><b>policy, served or not</b>, on every lookup, memory hits included:
 *       {@link io.clicktls.certificates.IssuancePolicy#decide} against the live config (syntax, {@code domains},
 *       cached refusals); a name that is not a host name or no longer configured is refused at once
 *       ({@link io.clicktls.certificates.NameRefusedException}), even when its certificate is in memory or storage
 *       (which keeps it: {@link io.clicktls.certificates.CertificateCleanup} lets it go after a grace period);</li>
 *   <li><b>backoff</b>: a name whose last issuance failed waits until
 *       {@link io.clicktls.certificates.IssuanceFailures} allows another attempt (the one place that decides the
 *       backoff, for first issuance and renewal alike); meanwhile a lookup without a certificate is refused
 *       ({@link io.clicktls.certificates.IssuanceHeldBackException}) without asking the CA: at once when memory and the
 *       store's index tell, else after the storage read below;</li>
 *   <li><b>storage</b>: {@code CertificateStore.load} on the loads executor; a valid stored certificate is served
 *       whatever the backoff says; an expired one makes the next order a renewal;</li>
 *   <li><b>the name's order lease</b> ({@link io.clicktls.certificates.OrderLeases}, one order per name across the
 *       nodes sharing the storage): taken before ordering, then storage is read again and a certificate another node
 *       wrote meanwhile is served; while another node holds it the lookup waits for that node's certificate (change
 *       feed, else polling), at most {@code on_demand.handshake_wait}, and takes the lease over if it runs out;</li>
 *   <li><b>policy, may it be ordered</b>: {@link io.clicktls.certificates.IssuancePolicy#decideOrder} ({@code ask},
 *       DNS, then the rate limits of {@link io.clicktls.certificates.IssuanceLimits}, including the new-name budgets
 *       per registered domain and per client; asynchronous). It hands back one
 *       {@link io.clicktls.certificates.Order}, closed exactly once (issued, failed, cancelled), or a
 *       {@link io.clicktls.certificates.Refusal};</li>
 *   <li><b>issuer</b>: {@link io.clicktls.certificates.CertificateIssuer#issue} (ACME or the internal CA, seen through
 *       {@link io.clicktls.certificates.IssuanceJournal}) on the blocking executor; a failure is recorded in
 *       {@link io.clicktls.certificates.IssuanceFailures}, a success clears it; then {@code CertificateStore.save},
 *       fenced by the lease: if another node took the lease over meanwhile nothing is written and what storage holds
 *       is served;</li>
 *   <li><b>memory again</b>, announced first as {@link io.clicktls.certificates.CertificateEvents#ready} (the server
 *       wiring builds the TLS context then, so the context cache follows this one); a certificate leaving memory is
 *       announced as {@link io.clicktls.certificates.CertificateEvents#removed}.</li>
 * </ol>
 * Concurrent lookups of one name share one future (single flight). Lookups that may wait are bounded per client and
 * in all by {@link io.clicktls.certificates.PendingHandshakes}, on both listeners.
 *
 * <h2>The other pieces</h2>
 *
 * <ul>
 *   <li>{@link io.clicktls.certificates.RenewalScheduler} renews stored certificates before they expire, through the
 *       resolver ({@code renew}: an unplanned order, which no new-name budget holds back, under the same lease; a node
 *       that finds a newer certificate in storage once it has the lease takes it instead of ordering);</li>
 *   <li>{@link io.clicktls.certificates.CertificateCleanup} lets go of certificates of names no longer allowed;</li>
 *   <li>{@link io.clicktls.certificates.AskClient}, {@link io.clicktls.certificates.DnsCheck} and
 *       {@link io.clicktls.certificates.PublicSuffixList} answer the policy's questions;</li>
 *   <li>{@link io.clicktls.certificates.IssuanceJournal} tells the status page which orders are under way and which
 *       names fail.</li>
 * </ul>
 *
 * <p>Dependencies: this package uses {@code config}, {@code storage}, {@code pki} and {@code metrics}; it knows
 * nothing of TLS contexts, listeners or ACME (the server wiring, {@code ClickTlsServer}, connects them).
 */
package io.clicktls.certificates;
