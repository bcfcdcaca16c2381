package io.clicktls.tls;

import io.netty.handler.ssl.SslProvider;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A parameterized test run once with BoringSSL ({@code OPENSSL_REFCNT}; the test skips itself where it is missing)
 * and once with the JDK's TLS: the two providers the proxy may run on.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ParameterizedTest
@EnumSource(
        value = SslProvider.class,
        names = {"OPENSSL_REFCNT", "JDK"})
@interface EachProvider {}
