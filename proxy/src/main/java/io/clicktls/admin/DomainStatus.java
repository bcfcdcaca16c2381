package io.clicktls.admin;

import io.clicktls.certificates.CertificateCleanup;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.storage.Storage;
import java.time.Instant;

/**
 * One row of the status page: a configured {@code domains} entry (an exact name or a {@code *.} pattern) or a name
 * that has a certificate or issuance state.
 *
 * @param pattern whether this is a wildcard entry of the config (certificates exist per name under it)
 * @param configured whether the config's domains serve the name (a name with a certificate may have been removed)
 * @param platform the platform the name routes to, or {@code null}
 * @param certificate the certificate in memory, else in storage, or {@code null}
 * @param nextRenewal when the renewal is planned (or, before the scheduler has looked at a new certificate, due by
 *     the one-third-of-lifetime rule), or {@code null}
 * @param renewalPlanned whether {@code nextRenewal} is the scheduler's plan rather than an estimate
 * @param lastError the last failed attempt since the last success, or {@code null}
 * @param hold a rate limit holding issuance back, or {@code null}
 * @param marked set when the name is no longer allowed: its certificate is deleted after the grace period, unless
 *     the name is allowed again; else {@code null}
 * @param dns the last DNS check, or {@code null} when none is fresh
 * @param lease the node holding the lease to order this name's certificate now (any node sharing the storage), or
 *     {@code null}
 * @param allowedBy what in the config allows the name (a {@code domains} entry, {@code ask}), or {@code null} when
 *     nothing does
 */
public record DomainStatus(
        String name,
        boolean pattern,
        boolean configured,
        String platform,
        CertificateState state,
        CertificateFacts certificate,
        Instant nextRenewal,
        boolean renewalPlanned,
        IssuanceFailure lastError,
        Hold hold,
        CertificateCleanup.Mark marked,
        DnsStatus dns,
        Storage.LeaseHolder lease,
        AllowedBy allowedBy) {

    DomainStatus withDns(DnsStatus report) {
        return new DomainStatus(
                name,
                pattern,
                configured,
                platform,
                state,
                certificate,
                nextRenewal,
                renewalPlanned,
                lastError,
                hold,
                marked,
                report,
                lease,
                allowedBy);
    }
}
