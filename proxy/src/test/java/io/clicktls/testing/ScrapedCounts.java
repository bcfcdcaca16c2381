package io.clicktls.testing;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the series of one single-label counter family out of a Prometheus text exposition. */
public final class ScrapedCounts {

    private ScrapedCounts() {}

    /** {@code family{label="value"} count} lines of {@code scrape}, as value to count, sorted by value. */
    public static Map<String, Double> byLabel(String scrape, String family, String label) {
        Pattern series = Pattern.compile(Pattern.quote(family) + "\\{" + label + "=\"([^\"]+)\"} (\\S+)");
        Map<String, Double> counts = new TreeMap<>();
        Matcher matcher = series.matcher(scrape);
        while (matcher.find()) {
            counts.put(matcher.group(1), Double.parseDouble(matcher.group(2)));
        }
        return counts;
    }
}
