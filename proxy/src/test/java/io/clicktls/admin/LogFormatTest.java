package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The shipped logback.xml: text lines by default, JSON lines with CLICKTLS_LOG_FORMAT=json. */
class LogFormatTest {

    private final PrintStream stderr = System.err;

    @AfterEach
    void restore() {
        System.setErr(stderr);
        System.clearProperty("CLICKTLS_LOG_FORMAT");
    }

    @Test
    void jsonFormatWritesOneParsableObjectPerEvent() throws Exception {
        System.setProperty("CLICKTLS_LOG_FORMAT", "json");

        String output = log("issued a certificate for {}", "links.example.com");

        String[] lines = output.strip().split("\n");
        assertThat(lines).hasSize(1);
        JsonNode event = new ObjectMapper().readTree(lines[0]);
        assertThat(event.get("level").asText()).isEqualTo("INFO");
        assertThat(event.get("loggerName").asText()).isEqualTo("clicktls.test");
        assertThat(event.get("formattedMessage").asText()).isEqualTo("issued a certificate for links.example.com");
    }

    @Test
    void defaultFormatIsOneTextLinePerEvent() throws Exception {
        String output = log("issued a certificate for {}", "links.example.com");

        assertThat(output)
                .matches("\\d{4}-\\d{2}-\\d{2}T\\S+ INFO  test - issued a certificate for" + " links.example.com\\R");
    }

    private String log(String format, Object argument) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new LogbackMDCAdapter());
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(LogFormatTest.class.getResource("/logback.xml"));
        context.getLogger("clicktls.test").info(format, argument);
        context.stop();
        return captured.toString(StandardCharsets.UTF_8);
    }
}
