package io.kmaint.example;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The whole kmaint agent protocol (docs/protocol.md): long-poll the desired state, report ours. */
final class AgentClient {
    record Desired(long generation, boolean maintenance) {}

    private final HttpClient http = HttpClient.newHttpClient();
    private final String base;

    AgentClient(String base) {
        this.base = base;
    }

    /** The desired state once its generation differs from {@code after} (or after 20 s); -1: at once. */
    Desired poll(long after) throws IOException, InterruptedException {
        String query = after < 0 ? "" : "?after=" + after + "&wait=20s";
        String body = send(HttpRequest.newBuilder(URI.create(base + "/v1/desired" + query)).GET());
        return new Desired(Long.parseLong(field(body, "generation")), Boolean.parseBoolean(field(body, "maintenance")));
    }

    void report(String state, int inFlight, long generation) throws IOException, InterruptedException {
        String json = "{\"state\":\"" + state + "\",\"inFlight\":" + inFlight + ",\"generation\":" + generation + "}";
        send(HttpRequest.newBuilder(URI.create(base + "/v1/state")).POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    private String send(HttpRequest.Builder request) throws IOException, InterruptedException {
        var response = http.send(request.timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
        if (response.statusCode() != 200) throw new IOException("agent answered " + response.statusCode() + ": " + response.body());
        return response.body();
    }

    private static String field(String json, String name) throws IOException {
        Matcher m = Pattern.compile("\"" + name + "\":\\s*([^,}]+)").matcher(json);
        if (!m.find()) throw new IOException("no \"" + name + "\" in " + json);
        return m.group(1).trim();
    }
}
