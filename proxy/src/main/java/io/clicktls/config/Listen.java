package io.clicktls.config;

/** The three listeners. Changing them needs a restart; a reload that changes them logs so. */
public record Listen(Endpoint https, Endpoint http, Endpoint admin) {}
